# SPDX-License-Identifier: MIT
# Compiles SOURCE with COMPILER and FLAGS (separated by |) and passes when the compiler refuses it with
# the text on the source's first line ("// expect: <text>") in its messages.
file(STRINGS "${SOURCE}" _first LIMIT_COUNT 1)
string(REGEX REPLACE "^// expect: " "" _expect "${_first}")
string(REPLACE "|" ";" FLAGS "${FLAGS}")
execute_process(COMMAND ${COMPILER} ${FLAGS} "${SOURCE}"
                RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
string(FIND "${_out}${_err}" "${_expect}" _at)
if(_rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled; it must be refused with \"${_expect}\"")
elseif(_at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} was refused, but without \"${_expect}\":\n${_out}${_err}")
endif()
message(STATUS "refused as expected: ${_expect}")
