# libFuzzer targets (clang only): the message parser and capture filter
# (fuzz_msg), the relay step with its rings and shadow state (fuzz_relay), the
# records reader (fuzz_records), the shadow's decoder (fuzz_shadow_codec),
# the save's walk of a subtree (fuzz_tree_read), the live-switch
# protocol's texts (fuzz_claim) and the shim's ring follower (fuzz_follow).
# The sources under test are compiled
# into each target, instrumented, so the fuzzer sees their coverage.
#
# ctest runs each for XSPROXY_FUZZ_SECONDS (tests fuzz.msg, fuzz.relay,
# fuzz.records, fuzz.shadow_codec, fuzz.tree_read, fuzz.claim, fuzz.follow); a crash, leak, timeout or sanitizer report fails the test.
# New inputs go to a scratch corpus in the build tree; the seeds in
# tests/fuzz/<name>/ are only read.  deploy/fuzz.sh runs them for longer.
if(NOT CMAKE_C_COMPILER_ID MATCHES Clang)
  return()
endif()

set(XSPROXY_FUZZ_SECONDS 15 CACHE STRING "Seconds ctest fuzzes each libFuzzer target for")

set(_fuzz_flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer)
set(_proxy_dir ${PROJECT_SOURCE_DIR}/proxy)
set(_xsrec_dir ${PROJECT_SOURCE_DIR}/records)

function(xsproxy_fuzz name)
  add_executable(fuzz_${name} fuzz_${name}.c ${ARGN})
  target_compile_options(fuzz_${name} PRIVATE ${_fuzz_flags})
  target_link_options(fuzz_${name} PRIVATE ${_fuzz_flags})
  set(_scratch ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus/${name})
  set(_artifacts ${CMAKE_CURRENT_BINARY_DIR}/fuzz-artifacts/${name})
  file(MAKE_DIRECTORY ${_scratch} ${_artifacts})
  set(_dict)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name}.dict)
    set(_dict -dict=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name}.dict)
  endif()
  add_test(NAME fuzz.${name}
    COMMAND fuzz_${name} -max_total_time=${XSPROXY_FUZZ_SECONDS} -timeout=5
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=${_artifacts}/ ${_dict}
      ${_scratch} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name})
  math(EXPR _timeout "${XSPROXY_FUZZ_SECONDS} + 120")
  set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT ${_timeout} LABELS fuzz)
endfunction()

# proxy/msg.c, the capture filter parser and capture_wanted
xsproxy_fuzz(msg ${_proxy_dir}/msg.c ${_proxy_dir}/capture_filter.c)
target_include_directories(fuzz_msg PRIVATE ${_proxy_dir} ${_proxy_dir}/include)

# the relay step (proxy/relay_step.c) with proxy/ring.c and proxy/shadow.c
# driven by arbitrary ring contents (each state reached also goes through
# proxy/shadow_codec.c and back)
xsproxy_fuzz(relay ${_proxy_dir}/msg.c ${_proxy_dir}/ring.c ${_proxy_dir}/shadow.c
  ${_proxy_dir}/shadow_codec.c ${_proxy_dir}/capture_filter.c ${_proxy_dir}/relay_step.c
  ${_proxy_dir}/bytequeue.c)
target_include_directories(fuzz_relay PRIVATE ${_proxy_dir} ${_proxy_dir}/include)

# proxy/shadow_codec.c's decoder on any bytes, and the shadows it takes
# driven on through proxy/shadow.c
xsproxy_fuzz(shadow_codec ${_proxy_dir}/msg.c ${_proxy_dir}/shadow.c
  ${_proxy_dir}/shadow_codec.c)
target_include_directories(fuzz_shadow_codec PRIVATE ${_proxy_dir} ${_proxy_dir}/include)

# the save's walk of a subtree (proxy/tree_read.c) against any answers
xsproxy_fuzz(tree_read ${_proxy_dir}/tree_read.c ${_proxy_dir}/msg.c)
target_include_directories(fuzz_tree_read PRIVATE ${_proxy_dir} ${_proxy_dir}/include)

# the live-switch protocol's texts (shim/claim.c), both ways
set(_shim_dir ${PROJECT_SOURCE_DIR}/shim)
xsproxy_fuzz(claim ${_shim_dir}/claim.c)
target_include_directories(fuzz_claim PRIVATE ${_shim_dir})

# the shim's ring follower (shim/ring_follow.c, shim/stream_track.c) against
# a model of a guest and a daemon sharing a ring
xsproxy_fuzz(follow ${_shim_dir}/ring_follow.c ${_shim_dir}/stream_track.c)
target_include_directories(fuzz_follow PRIVATE ${_shim_dir})

# libxsrecords' readers and writers
xsproxy_fuzz(records ${_xsrec_dir}/buf.c ${_xsrec_dir}/verify.c ${_xsrec_dir}/upstream.c
  ${_xsrec_dir}/seed.c ${_xsrec_dir}/model.c)
target_include_directories(fuzz_records PRIVATE ${_xsrec_dir}/include ${_xsrec_dir})

# a transfer's frames from another host (proxy/transfer_wire.c)
xsproxy_fuzz(transfer_wire ${_proxy_dir}/transfer_wire.c)
target_include_directories(fuzz_transfer_wire PRIVATE ${_proxy_dir})
target_link_libraries(fuzz_transfer_wire PRIVATE z)
