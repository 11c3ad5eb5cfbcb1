# SPDX-License-Identifier: MIT
# Strict warnings for project code (curl's PickyWarnings as the model).
# Third-party code (llhttp) does not use these.
set(EIP_WARNINGS
  -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wformat=2
  -Wmissing-prototypes -Wstrict-prototypes -Wvla -Wpointer-arith
  -Wcast-qual -Wwrite-strings -Wundef -Wnull-dereference
  -Wimplicit-fallthrough)
if(DEFINED ENV{CI} AND NOT "$ENV{CI}" STREQUAL "" AND NOT "$ENV{CI}" STREQUAL "false")
  list(APPEND EIP_WARNINGS -Werror)
endif()

# eip_project_target(<target>): strict warnings and include root for our own code.
function(eip_project_target tgt)
  target_compile_options(${tgt} PRIVATE ${EIP_WARNINGS})
  target_include_directories(${tgt} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()
