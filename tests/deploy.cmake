# deploy.cmake - the installation (deploy/): the Debian package cpack makes
# from this build tree, its systemd units under systemd-analyze verify, and
# xsproxy-launch on a sim with each daemon.  Included by tests/CMakeLists.txt,
# which defines xsproxy_test().
xsproxy_test(test_deploy test_deploy.cc)
target_compile_definitions(test_deploy PRIVATE
  XSP_BINARY_DIR="${CMAKE_BINARY_DIR}" XSP_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  XSP_CPACK="${CMAKE_CPACK_COMMAND}")
# what the package and the launcher test run (deploy/ adds xsproxy_man and
# the launcher, after this file is read: the names are resolved at generate time)
add_dependencies(test_deploy xsproxy xsproxyctl xssim xsshim xensim xsrecords_cmd xsproxy_man)
