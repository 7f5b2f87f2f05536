# proxy.cmake - the xsproxy core suites: differential runs of a
# scripted workload directly and through xsproxy, bad input, stock tools,
# domain insertion/removal, and unit tests of the protocol library.
# Included by tests/CMakeLists.txt, which defines xsproxy_test().

# Pure unit tests of proxy/msg.c, ring.c, shadow.c, shadow_codec.c, log_limit.c,
# tree_read.c, relay_step.c:
# no daemon.
xsproxy_test(test_proxy_shadow test_proxy_shadow.cc)
target_link_libraries(test_proxy_shadow PRIVATE xsproxy_proto)
xsproxy_test(test_proxy_relay_step test_proxy_relay_step.cc)
target_link_libraries(test_proxy_relay_step PRIVATE xsproxy_proto)
xsproxy_test(test_proxy_fair test_proxy_fair.cc)
target_link_libraries(test_proxy_fair PRIVATE xsproxy_proto)
xsproxy_test(test_proxy_shadow_codec test_proxy_shadow_codec.cc)
target_link_libraries(test_proxy_shadow_codec PRIVATE xsproxy_proto)
xsproxy_test(test_proxy_capture test_proxy_capture.cc)
target_link_libraries(test_proxy_capture PRIVATE xsproxy_proto)
xsproxy_test(test_proxy_log_limit test_proxy_log_limit.cc)
target_link_libraries(test_proxy_log_limit PRIVATE xsproxy_proto)
xsproxy_test(test_tree_read test_tree_read.cc)
target_link_libraries(test_tree_read PRIVATE xsproxy_proto)
# The journal file on its own (proxy/journal.c: plain file I/O, no daemon).
xsproxy_test(test_proxy_journal test_proxy_journal.cc ${PROJECT_SOURCE_DIR}/proxy/journal.c)
target_include_directories(test_proxy_journal PRIVATE ${PROJECT_SOURCE_DIR}/proxy)

xsproxy_test(test_proxy_diff test_proxy_diff.cc)
target_link_libraries(test_proxy_diff PRIVATE xsproxy_workload)

xsproxy_test(test_proxy_badinput test_proxy_badinput.cc)
target_link_libraries(test_proxy_badinput PRIVATE xsproxy_workload)
target_include_directories(test_proxy_badinput PRIVATE ${CMAKE_SOURCE_DIR}/proxy/include
  ${CMAKE_SOURCE_DIR}/proxy)

# xenstored killed and a new one started: error replies meanwhile, then
# xsproxy reconnects and the guests go on on the same rings.
xsproxy_test(test_proxy_xenstored_restart test_proxy_xenstored_restart.cc)
target_link_libraries(test_proxy_xenstored_restart PRIVATE xsproxy_workload)

xsproxy_test(test_proxy_tools test_proxy_tools.cc)
target_link_libraries(test_proxy_tools PRIVATE xsproxy_workload)

# The migration operations (QUIESCE, RESUME, GET/ADD_DOMAIN_WATCHES).
xsproxy_test(test_proxy_migration test_proxy_migration.cc)
target_link_libraries(test_proxy_migration PRIVATE xsproxy_workload xsrecords)
target_include_directories(test_proxy_migration PRIVATE ${CMAKE_SOURCE_DIR}/proxy/include)

# A guest migrated between two simulated hosts, every daemon pairing.
xsproxy_test(test_proxy_migrate_hosts test_proxy_migrate_hosts.cc)
target_link_libraries(test_proxy_migrate_hosts PRIVATE xsproxy_workload)
target_include_directories(test_proxy_migrate_hosts PRIVATE ${CMAKE_SOURCE_DIR}/proxy/include)

# pcap captures decoded by tshark with deploy/wireshark/xenstore.lua.
pkg_check_modules(TEST_LIBPCAP REQUIRED IMPORTED_TARGET libpcap)
xsproxy_test(test_proxy_pcap test_proxy_pcap.cc)
target_link_libraries(test_proxy_pcap PRIVATE xsproxy_workload PkgConfig::TEST_LIBPCAP)
target_compile_definitions(test_proxy_pcap PRIVATE XSPROXY_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
target_include_directories(test_proxy_pcap PRIVATE ${CMAKE_SOURCE_DIR}/proxy/include)

# Live insertion and removal of a domain xenstored serves directly.
xsproxy_test(test_proxy_live test_proxy_live.cc)
target_link_libraries(test_proxy_live PRIVATE xsproxy_workload)

# Hostile guests: floods, malformed messages, endless watches and
# transactions; xsproxy's per-domain bounds, the other guests unaffected.
xsproxy_test(test_proxy_hostile test_proxy_hostile.cc)
target_link_libraries(test_proxy_hostile PRIVATE xsproxy_workload)
target_include_directories(test_proxy_hostile PRIVATE ${CMAKE_SOURCE_DIR}/proxy/include)
# The others' p99 under the floods that meet the bound (alone on the host).
# A bound on latency is the product's, so only in the plain build: the
# sanitizers slow xsproxy's every pass (and not the daemons), which moves
# the ratio it measures; the same floods run under them in test_proxy_hostile.
if(NOT XSPROXY_SANITIZE)
  xsproxy_test(test_proxy_hostile_latency test_proxy_hostile_latency.cc SERIAL)
  target_link_libraries(test_proxy_hostile_latency PRIVATE xsproxy_workload)
  target_include_directories(test_proxy_hostile_latency PRIVATE ${CMAKE_SOURCE_DIR}/proxy/include)
endif()
# The fair share of the daemon between domains (weights, a domain alone).
xsproxy_test(test_proxy_share test_proxy_share.cc)
target_link_libraries(test_proxy_share PRIVATE xsproxy_workload)
target_include_directories(test_proxy_share PRIVATE ${CMAKE_SOURCE_DIR}/proxy/include)

# xsproxy killed and started again under load: it carries on from its
# journals.
xsproxy_test(test_proxy_restart test_proxy_restart.cc)
target_link_libraries(test_proxy_restart PRIVATE xsproxy_workload)

# The simulated Xen below Xen's own libraries: Debian's libraries driven
# directly (xensim_probe, a plain program run with libxensim.so preloaded),
# and every call of the daemons and xsproxy counted by who made it.
add_executable(xensim_probe xensim_probe.c)
target_link_libraries(xensim_probe PRIVATE PkgConfig::XENCTRL PkgConfig::XENEVTCHN
  PkgConfig::XENGNTTAB)
# a plain program, like the daemons (it links nothing sanitized)
set_target_properties(xensim_probe PROPERTIES C_EXTENSIONS ON)
xsproxy_test(test_xensim test_xensim.cc)
target_link_libraries(test_xensim PRIVATE xsproxy_workload)
add_dependencies(test_xensim xensim_probe)

xsproxy_test(test_proxy_transfer LONG test_proxy_transfer.cc)
target_link_libraries(test_proxy_transfer PRIVATE xsproxy_workload xsproxy_proto)

# The inputs Xen's advisories about xenstored fixed, directly and through
# xsproxy, on both daemons (docs/xsa.md).
xsproxy_test(test_proxy_xsa test_proxy_xsa.cc)
target_link_libraries(test_proxy_xsa PRIVATE xsproxy_workload)
