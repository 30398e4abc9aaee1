"""A compact map of 64-bit keys to 63-bit values, for the plan's checks over a national file.

A Python dict of ints costs about a hundred bytes an entry; a million logins and a million ID
numbers took the loader past 300 MB. This table keeps keys and values in two `array('q')`s
(open addressing, linear probing, at most 60% full): about 27 bytes an entry.
"""

from __future__ import annotations

from array import array

EMPTY = 0


class IntMap:
    def __init__(self, capacity: int = 1 << 12) -> None:
        self._keys = array("q", bytes(8 * capacity))
        self._values = array("q", bytes(8 * capacity))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @staticmethod
    def _key(key: int) -> int:
        key = (key & 0xFFFFFFFFFFFFFFFF) - (1 << 63)  # any int into int64, as slapd-free as hash()
        return key if key != EMPTY else 1

    def _slot(self, key: int) -> int:
        keys, mask = self._keys, len(self._keys) - 1
        slot = (key * 0x9E3779B97F4A7C15 >> 7) & mask
        while keys[slot] != EMPTY and keys[slot] != key:
            slot = (slot + 1) & mask
        return slot

    def get(self, key: int) -> int | None:
        slot = self._slot(self._key(key))
        return self._values[slot] if self._keys[slot] != EMPTY else None

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def __getitem__(self, key: int) -> int:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __setitem__(self, key: int, value: int) -> None:
        k = self._key(key)
        slot = self._slot(k)
        if self._keys[slot] == EMPTY:
            self._count += 1
        self._keys[slot], self._values[slot] = k, value
        if self._count * 5 > len(self._keys) * 3:
            self._grow()

    def _grow(self) -> None:
        keys, values = self._keys, self._values
        self._keys = array("q", bytes(16 * len(keys)))
        self._values = array("q", bytes(16 * len(values)))
        for k, v in zip(keys, values, strict=True):
            if k != EMPTY:
                slot = self._slot(k)
                self._keys[slot], self._values[slot] = k, v
