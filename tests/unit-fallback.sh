#!/bin/sh
# unit-fallback.sh — the unit tests again with tiny.use_superslab = false, so
# the slab engine is tested over both of its slab sources.
set -u
status=0
for t in $HAK_UNIT_TESTS; do
    echo "== $t (HAKMEM_TINY_USE_SUPERSLAB=0)"
    HAKMEM_TINY_USE_SUPERSLAB=0 "$builddir/$t" || status=1
done
exit $status
