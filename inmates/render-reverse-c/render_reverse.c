// The gem's own end-to-end test in C: yield to the application's block, then return.
// `render_reverse.h` is generated from wit/ by the build (wit-bindgen's C generator).
#include <stdlib.h>

#include "render_reverse.h"
#include "utf8.h"

void exports_render_reverse_render_reverse(render_reverse_string_t *input,
                                           render_reverse_string_t *ret) {
  render_reverse_string_t value;
  render_reverse_string_set(&value, "test");
  render_reverse_yield(&value);

  ret->len = input->len;
  ret->ptr = malloc(input->len > 0 ? input->len : 1);
  if (ret->ptr == NULL) {
    abort();
  }
  utf8_reverse(input->ptr, input->len, ret->ptr);
  render_reverse_string_free(input);
}
