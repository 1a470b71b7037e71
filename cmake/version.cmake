# Writes the build-provenance header at build time (not only at configure time), so that
# `qtmscan --version` and output files name the commit that was really built. The file is
# rewritten only when its content changes, so an unchanged commit triggers no rebuild.
# Inputs: SRC (the .h.in template), DST (the header), GIT_DIR_ROOT, PROJECT_VERSION.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${GIT_DIR_ROOT} OUTPUT_VARIABLE QTM_GIT_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT QTM_GIT_COMMIT)
  set(QTM_GIT_COMMIT "unknown")
else()
  execute_process(COMMAND git status --porcelain --untracked-files=no
    WORKING_DIRECTORY ${GIT_DIR_ROOT} OUTPUT_VARIABLE dirty ERROR_QUIET)
  if(dirty)
    string(APPEND QTM_GIT_COMMIT "-dirty")
  endif()
endif()
configure_file(${SRC} ${DST}.tmp @ONLY)
file(COPY_FILE ${DST}.tmp ${DST} ONLY_IF_DIFFERENT)
file(REMOVE ${DST}.tmp)
