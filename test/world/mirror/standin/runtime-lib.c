/*
 * memoh test world: STAND-IN for Alpine's libgcc_s.so.1 (-DLIBGCC) and libstdc++.so.6.0.33 (default).
 * Tiny musl shared objects with the real sonames; the node-musl stand-in needs both to start.
 * -DALPINE_ARCH='"x86_64"' names the architecture in the identification string.
 */
#ifndef ALPINE_ARCH
#error "ALPINE_ARCH must be defined"
#endif

#ifdef LIBGCC
__attribute__((used)) static const char marker[] = "MEMOH-TEST-WORLD-STAND-IN libgcc_s.so.1 (Alpine libgcc 14.2.0-r6 " ALPINE_ARCH ")";
const char *memoh_libgcc_s_standin(void) { return marker; }
#else
extern const char *memoh_libgcc_s_standin(void);
__attribute__((used)) static const char marker[] = "MEMOH-TEST-WORLD-STAND-IN libstdc++.so.6.0.33 (Alpine libstdc++ 14.2.0-r6 " ALPINE_ARCH ")";
const char *memoh_libstdcxx_standin(void) {
  (void)memoh_libgcc_s_standin; /* like the real one, libstdc++ needs libgcc_s */
  return marker;
}
#endif
