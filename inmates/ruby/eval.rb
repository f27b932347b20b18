# The jail's side of untrusted Ruby: run a script with the application's input on
# $stdin and hand back what it printed. Whatever it raises goes back as the error.
# Ruby's standard library is inside the image (ruby+stdlib.wasm); nothing of the host's.
require "stringio"

module Hoosegow
  def self.eval(script, input)
    $stdin = StringIO.new(input)
    $stdout = StringIO.new(+"")
    TOPLEVEL_BINDING.eval(script, "script.rb", 1)
    $stdout.string
  end
end
