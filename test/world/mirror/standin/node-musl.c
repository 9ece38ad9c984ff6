/*
 * memoh test world: STAND-IN for the unofficial musl build of Node.js (no real one is reachable offline).
 *
 * Built with a musl toolchain and linked dynamically, like the real musl node, against
 *   libc (musl's loader /lib/ld-musl-<arch>.so.1), libstdc++.so.6 and libgcc_s.so.1
 * so it only starts where a musl loader exists AND LD_LIBRARY_PATH (or the system) provides the two C++
 * runtime libraries: exactly what the toolkit's node-musl/runtime-lib + wrapper are for. The two libraries
 * it expects are the stand-ins shipped in the mirror's Alpine libgcc/libstdc++ packages.
 *
 *   node --version | -v               -> v<NODE_VERSION>
 *   node <.../npm-cli.js|npx-cli.js> --version   (also through the bin/npm, bin/npx symlinks)
 *                                     -> "version" of <script dir>/../package.json (npm --version works)
 *   node -p process.version|process.arch|process.platform -> that value
 *   node <script> [args]              -> one line saying what it would run (exit 0)
 *   anything else (-e ..., -p ...)    -> one line naming the stand-in, its arch, LD_LIBRARY_PATH and the
 *                                        identification strings of the libstdc++/libgcc_s it loaded
 *
 * Compile-time: -DNODE_VERSION='"24.14.0"' -DNODE_ARCH='"x64"'
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NODE_VERSION
#error "NODE_VERSION must be defined"
#endif
#ifndef NODE_ARCH
#error "NODE_ARCH must be defined"
#endif

extern const char *memoh_libstdcxx_standin(void);
extern const char *memoh_libgcc_s_standin(void);

__attribute__((used)) static const char marker[] = "MEMOH-TEST-WORLD-STAND-IN node-musl v" NODE_VERSION " " NODE_ARCH;

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_version_flag(const char *s) { return strcmp(s, "--version") == 0 || strcmp(s, "-v") == 0; }

/* prints the "version" field of <dir of realpath(script)>/../package.json; 0 on success */
static int print_package_version(const char *script) {
  char real[PATH_MAX];
  if (!realpath(script, real)) return -1;
  char pj[PATH_MAX + 32];
  snprintf(pj, sizeof pj, "%s/../package.json", dirname(real));
  FILE *f = fopen(pj, "r");
  if (!f) return -1;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strstr(buf, "\"version\"");
  if (!p) return -1;
  p += 9;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':') p++;
  if (*p != '"') return -1;
  char *q = strchr(++p, '"');
  if (!q) return -1;
  printf("%.*s\n", (int)(q - p), p);
  return 0;
}

int main(int argc, char **argv) {
  const char *ldp = getenv("LD_LIBRARY_PATH");
  if (argc >= 2 && is_version_flag(argv[1])) {
    puts("v" NODE_VERSION);
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "-p") == 0) {
    if (strcmp(argv[2], "process.version") == 0) { puts("v" NODE_VERSION); return 0; }
    if (strcmp(argv[2], "process.arch") == 0) { puts(NODE_ARCH); return 0; }
    if (strcmp(argv[2], "process.platform") == 0) { puts("linux"); return 0; }
  }
  if (argc >= 2 && argv[1][0] != '-') {
    char real[PATH_MAX];
    const char *script = realpath(argv[1], real) ? real : argv[1];
    if (ends_with(script, "npm-cli.js") || ends_with(script, "npx-cli.js")) {
      if (argc >= 3 && is_version_flag(argv[2])) {
        if (print_package_version(argv[1]) == 0) return 0;
        fprintf(stderr, "node-musl stand-in: cannot read the version of %s\n", argv[1]);
        return 1;
      }
    }
    printf("node-musl stand-in v%s (%s, musl): would run %s", NODE_VERSION, NODE_ARCH, script);
    for (int i = 2; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
    return 0;
  }
  printf("node-musl stand-in v%s (%s, musl libc) LD_LIBRARY_PATH=%s libstdc++=[%s] libgcc_s=[%s]\n", NODE_VERSION,
         NODE_ARCH, ldp ? ldp : "", memoh_libstdcxx_standin(), memoh_libgcc_s_standin());
  return 0;
}
