# ini2c.awk — turns conf/hakmem.ini into the C string _hak_builtin_ini.
# Comment lines become empty lines: the copy keeps every setting at its line
# number (reports cite builtin:hakmem.ini:LINE) without the 12 KiB of text
# that every process would map with the library.
BEGIN {
    print "/* Generated from conf/hakmem.ini by build-aux/ini2c.awk: do not edit. */"
    print "extern const char _hak_builtin_ini[];"
    print "const char _hak_builtin_ini[] ="
}
/^[ \t]*[;#]/ { print "    \"\\n\""; next }
{
    gsub(/\\/, "\\\\")
    gsub(/"/, "\\\"")
    print "    \"" $0 "\\n\""
}
END { print "    \"\";" }
