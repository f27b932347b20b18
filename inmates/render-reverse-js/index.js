// The gem's own end-to-end test in JavaScript: yield to the application's block, then
// return. A root import of the world is the default export of a module of its name.
import yieldToBlock from "yield";

export function renderReverse(input) {
  yieldToBlock("test");
  return Array.from(input).reverse().join("");
}
