# libFuzzer targets: tests/fuzz/<name>_fuzz.cpp, each defining only LLVMFuzzerTestOneInput. Two builds use them:
#
#   - WHALE_FUZZ=ON (clang only, `make fuzz`): every library is compiled with AddressSanitizer,
#     UndefinedBehaviorSanitizer and libFuzzer's coverage instrumentation, and each target links libFuzzer into
#     fuzz_<name>. ctest in that build replays the committed inputs under the sanitizers (fuzz.<name>).
#   - the ordinary build (WHALE_FUZZ=OFF): tests/CMakeLists.txt calls whale_fuzz_replay_tests(), which links each
#     target with tests/fuzz/replay_main.cpp into fuzz_replay_<name> and registers the unit test fuzz.<name>
#     over tests/fuzz/corpus/<name>/ and tests/fuzz/regressions/<name>/, so every crash found stays a test.
#
# Included from the top-level CMakeLists.txt before the libraries are defined, so that the compile flags below
# reach all of them.

set(WHALE_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
set(WHALE_FUZZ_TARGETS gguf safetensors tokenizer chat_template http)
# What each target exercises.
set(WHALE_FUZZ_LIBS_gguf whale_runtime)               # ModelSource, model config, tokenizer, template, dequant
set(WHALE_FUZZ_LIBS_safetensors whale_models)         # safetensors, config.json, Hugging Face folders
set(WHALE_FUZZ_LIBS_tokenizer whale_tokenizer)
set(WHALE_FUZZ_LIBS_chat_template whale_chat)
set(WHALE_FUZZ_LIBS_http whale_server)                # routes and request parsing over the toy engine

# The committed inputs a target's test replays: its corpus, and its crash regressions once there are any. A new
# regressions/<name> folder changes the mtime of regressions/, which makes the build configure again.
if(EXISTS ${WHALE_FUZZ_DIR}/regressions)
  set_property(DIRECTORY ${CMAKE_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${WHALE_FUZZ_DIR}/regressions)
endif()
function(whale_fuzz_inputs name out)
  set(inputs ${WHALE_FUZZ_DIR}/corpus/${name})
  if(EXISTS ${WHALE_FUZZ_DIR}/regressions/${name})
    list(APPEND inputs ${WHALE_FUZZ_DIR}/regressions/${name})
  endif()
  set(${out} ${inputs} PARENT_SCOPE)
endfunction()

function(whale_fuzz_executable target name)
  target_compile_options(${target} PRIVATE ${WHALE_WARNINGS})
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(${target} PRIVATE WHALE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  target_link_libraries(${target} PRIVATE ${WHALE_FUZZ_LIBS_${name}})
endfunction()

# The ordinary build: replay executables and their tests. Called from tests/CMakeLists.txt.
function(whale_fuzz_replay_tests)
  if(WHALE_FUZZ)
    return()  # the fuzz build registers its own tests over the libFuzzer binaries
  endif()
  foreach(name ${WHALE_FUZZ_TARGETS})
    add_executable(fuzz_replay_${name} ${WHALE_FUZZ_DIR}/${name}_fuzz.cpp ${WHALE_FUZZ_DIR}/replay_main.cpp)
    whale_fuzz_executable(fuzz_replay_${name} ${name})
    whale_fuzz_inputs(${name} inputs)
    add_test(NAME fuzz.${name} COMMAND fuzz_replay_${name} ${inputs})
    set_tests_properties(fuzz.${name} PROPERTIES LABELS unit)
  endforeach()
endfunction()

if(NOT WHALE_FUZZ)
  return()
endif()

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "WHALE_FUZZ needs clang and libFuzzer: configure with CXX=clang++ "
                      "(Debian packages clang and libclang-rt-14-dev)")
endif()

# Every library: sanitizers that stop at the first report, and coverage feedback for libFuzzer.
add_compile_options(-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)

# Three kernel files pick their instruction sets with `#pragma GCC target(...)`, which clang does not know:
# they get the same sets as flags. (The rest of whale still runs them only where the CPU has those sets. Inline
# library code those files instantiate is compiled for those sets too, and the linker may keep that copy: the
# fuzz build is meant for machines with AVX-512.) One also silences a gcc-only warning by name.
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/kernels/attention_avx2.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-Wno-unknown-pragmas")
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/kernels/tiles_avx2.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-Wno-unknown-pragmas")
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/kernels/tiles_avx512.cpp
  PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni;-Wno-unknown-pragmas;-Wno-unknown-warning-option")

# Defined once the libraries exist (at the end of the top-level CMakeLists.txt).
enable_testing()
function(whale_fuzz_libfuzzer_targets)
  add_custom_target(fuzz)
  foreach(name ${WHALE_FUZZ_TARGETS})
    add_executable(fuzz_${name} ${WHALE_FUZZ_DIR}/${name}_fuzz.cpp)
    whale_fuzz_executable(fuzz_${name} ${name})
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    add_dependencies(fuzz fuzz_${name})
    # -runs=0: execute the given inputs once, then stop.
    whale_fuzz_inputs(${name} inputs)
    add_test(NAME fuzz.${name} COMMAND fuzz_${name} -runs=0 ${inputs})
    set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz)
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL whale_fuzz_libfuzzer_targets)
