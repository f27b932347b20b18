// The Ruby gem's README example in C: reverse a string, inside a jail.
// `reverse.h` is generated from wit/ by the build (wit-bindgen's C generator).
#include <stdlib.h>

#include "reverse.h"
#include "utf8.h"

// Exports own their arguments and hand the result to the caller, who frees it after
// the call (wit-bindgen's post-return).
void exports_reverse_reverse(reverse_string_t *input, reverse_string_t *ret) {
  ret->len = input->len;
  ret->ptr = malloc(input->len > 0 ? input->len : 1);
  if (ret->ptr == NULL) {
    abort();
  }
  utf8_reverse(input->ptr, input->len, ret->ptr);
  reverse_string_free(input);
}
