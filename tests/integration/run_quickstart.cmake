# Runs examples/quickstart.cpp and checks what it promises its reader: it exits 0, writes nothing
# to stderr (where a sanitizer would report), and walks the six steps in order, each request on the
# documented endpoint, ending with both refusals typed and five requests sent.
# ctest's PASS_REGULAR_EXPRESSION ignores the exit code and a leak report printed after the output,
# hence this script.  Usage: cmake -DPROGRAM=<path> -P run_quickstart.cmake
if(NOT PROGRAM)
  message(FATAL_ERROR "run_quickstart.cmake: pass -DPROGRAM=<path of wagroups_quickstart>")
endif()
execute_process(COMMAND "${PROGRAM}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "quickstart exited with ${rc}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT err STREQUAL "")
  message(FATAL_ERROR "quickstart wrote to stderr:\n${err}")
endif()
set(expected
  "1\\. The agent opens a group[^\n]*\n *-> POST [^\n]*/groups\n[^\n]*\"subject\":\"Order #1042: delivery\""
  "request_id 784D93D0C468593037EA0B1ECA245D9C"
  "2\\. [^\n]*\n *-> GET [^\n]*/groups\\?limit="
  "3\\. [^\n]*\n *-> GET [^\n]*/invite_link\n *https://chat\\.whatsapp\\.com/"
  "4\\. [^\n]*\n *-> POST [^\n]*/messages\n[^\n]*\"type\":\"template\""
  "5\\. [^\n]*\n *-> POST [^\n]*/messages\n[^\n]*\"recipient_type\":\"group\""
  "6\\. [^\n]*\n *unsupported: [^\n]*\n *invalid_argument: subject "
  "\nSent 5 requests. done\\.\n$")  # "." for the ";", which would split this list
set(rest "${out}")
foreach(pattern IN LISTS expected)
  string(REGEX MATCH "${pattern}" found "${rest}")
  if(found STREQUAL "")
    message(FATAL_ERROR "quickstart's output lacks, at this point, /${pattern}/:\n${rest}\n--- whole output:\n${out}")
  endif()
  string(FIND "${rest}" "${found}" at)
  string(LENGTH "${found}" length)
  math(EXPR after "${at} + ${length}")
  string(SUBSTRING "${rest}" ${after} -1 rest)
endforeach()
