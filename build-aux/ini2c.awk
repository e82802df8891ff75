# ini2c.awk — turns conf/hakmem.ini into the C string _hak_builtin_ini.
BEGIN {
    print "/* Generated from conf/hakmem.ini by build-aux/ini2c.awk: do not edit. */"
    print "extern const char _hak_builtin_ini[];"
    print "const char _hak_builtin_ini[] ="
}
{
    gsub(/\\/, "\\\\")
    gsub(/"/, "\\\"")
    print "    \"" $0 "\\n\""
}
END { print "    \"\";" }
