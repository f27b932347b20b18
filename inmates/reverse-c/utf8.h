// Reversing UTF-8 text by code point, shared by the C inmates' sources.
#ifndef HOOSEGOW_UTF8_H
#define HOOSEGOW_UTF8_H

#include <stddef.h>
#include <stdint.h>

// Writes the code points of `in` (len bytes of valid UTF-8) to `out` in reverse order,
// each code point's bytes kept in their order. `out` has room for len bytes.
static inline void utf8_reverse(const uint8_t *in, size_t len, uint8_t *out) {
  size_t end = len;
  size_t at = 0;
  while (end > 0) {
    size_t start = end - 1;
    // Continuation bytes are 10xxxxxx: step back to the code point's first byte.
    while (start > 0 && (in[start] & 0xC0) == 0x80) {
      start--;
    }
    for (size_t i = start; i < end; i++) {
      out[at++] = in[i];
    }
    end = start;
  }
}

#endif
