"""Compact configs shared by the firmware tests (plain dicts: they run on MicroPython too)."""


def two():
    return {
        "v": 1,
        "id": "two",
        "groups": ["ns", "ew"],
        "ped": [0, 0],
        "conflicts": [[0, 1]],
        "phases": [[0], [1]],
        "timing": [[5000, 20000, 2000, 3000, 1000], [4000, 15000, 1500, 3500, 500]],
        "detectors": [[0], [1]],
        "startup_flash": 2000,
        "startup_all_red": 1000,
    }


def four():
    """nl+nt, nt+st (nt overlaps), ew, ew+ewp (ew overlaps)."""
    return {
        "v": 1,
        "id": "four",
        "groups": ["nl", "nt", "st", "ew", "ewp"],
        "ped": [0, 0, 0, 0, 1],
        "conflicts": [[0, 2], [0, 3], [0, 4], [1, 3], [1, 4], [2, 3], [2, 4]],
        "phases": [[0, 1], [1, 2], [3], [3, 4]],
        "timing": [
            [5000, 15000, 2000, 3000, 1000],
            [8000, 30000, 3000, 4000, 2000],
            [6000, 20000, 2000, 3500, 1500],
            [7000, 25000, 2000, 3000, 1000],
        ],
        "detectors": [[0], [1], [2], [3]],
        "startup_flash": 4000,
        "startup_all_red": 2000,
    }
