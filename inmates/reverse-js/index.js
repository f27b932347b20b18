// The Ruby gem's README example in JavaScript: reverse a string, inside a jail.
// Reversed by code point, so that characters outside the BMP stay whole.
export function reverse(input) {
  return Array.from(input).reverse().join("");
}
