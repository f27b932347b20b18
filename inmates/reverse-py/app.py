"""The Ruby gem's README example in Python: reverse a string, inside a jail."""

import wit_world


class WitWorld(wit_world.WitWorld):
    def reverse(self, input: str) -> str:
        return input[::-1]
