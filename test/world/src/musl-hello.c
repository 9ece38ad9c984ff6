/* Test-world probe: a dynamically linked musl binary. It only runs where a real musl loader
 * (/lib/ld-musl-<arch>.so.1) exists, so it proves an image's musl userland works. */
#include <stdio.h>

int main(void) {
    puts("hello from musl");
    return 0;
}
