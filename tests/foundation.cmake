# The foundation's suites: the sim's hypervisor semantics, both daemons on
# the sim (dom0 over the socket, guests on rings, the upstream test-xenstore),
# teardown, and the shim's live switch of a domain to a shadow ring and back.
xsproxy_test(test_sim_evtchn test_sim_evtchn.cc)
xsproxy_test(test_dom0 test_dom0.cc)
xsproxy_test(test_guests test_guests.cc)
xsproxy_test(test_xenstore_suite test_xenstore_suite.cc)
xsproxy_test(test_teardown test_teardown.cc)
xsproxy_test(test_shim_live test_shim_live.cc ${PROJECT_SOURCE_DIR}/shim/claim.c)
target_include_directories(test_shim_live PRIVATE ${PROJECT_SOURCE_DIR}/shim)

# The shim's stream tracker, pure: no daemon.
xsproxy_test(test_stream_track test_stream_track.cc ${PROJECT_SOURCE_DIR}/shim/stream_track.c
  ${PROJECT_SOURCE_DIR}/shim/ring_follow.c ${PROJECT_SOURCE_DIR}/shim/claim.c)
target_include_directories(test_stream_track PRIVATE ${PROJECT_SOURCE_DIR}/shim)
# The live-switch protocol's formats and files (shim/claim.c), pure: no daemon.
xsproxy_test(test_claim test_claim.cc ${PROJECT_SOURCE_DIR}/shim/claim.c)
target_include_directories(test_claim PRIVATE ${PROJECT_SOURCE_DIR}/shim)
# test_sim_evtchn also sets the sim's shared state directly (a raise cut short)
target_sources(test_sim_evtchn PRIVATE xensim/sim_test_hooks.c)
target_include_directories(test_sim_evtchn PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/xensim)
