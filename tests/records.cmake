# libxsrecords' suite: round trips of both formats, streams built by hand
# from the format documents, every malformed-stream rule, the xsrecords
# command.  It needs no daemon, so it links the library alone instead of
# xstest_support (xsproxy_test).
add_executable(test_records test_records.cc)
target_link_libraries(test_records PRIVATE xsrecords GTest::gtest_main)
target_compile_definitions(test_records PRIVATE
  XSRECORDS_BIN="$<TARGET_FILE:xsrecords_cmd>"
  XSRECORDS_TESTDATA="${PROJECT_SOURCE_DIR}/records/testdata")
add_dependencies(test_records xsrecords_cmd)
gtest_discover_tests(test_records TEST_PREFIX "records." DISCOVERY_TIMEOUT 60
  PROPERTIES TIMEOUT 300)
