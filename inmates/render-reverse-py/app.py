"""The gem's own end-to-end test in Python: yield to the application's block, then return."""

import wit_world


class WitWorld(wit_world.WitWorld):
    def render_reverse(self, input: str) -> str:
        wit_world.yield_("test")
        return input[::-1]
