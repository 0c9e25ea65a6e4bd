# -*- coding: utf-8 -*-
"""free_space: the decision on a VM's volumes that hyperv_checkpoint (and the role's pre-flight) use."""

from __future__ import annotations

import pytest

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._free_space import (
    DEFAULT_MIN_FREE_GB,
    human_bytes,
    low_free_space,
    lowest_free_bytes,
    min_free_bytes,
    unknown_free_space,
)

from hyperv_records import GIB, vm, volume


def test_the_least_free_volume_below_the_minimum_is_named():
    record = vm(volumes=[volume("C:\\", free_gb=9.0), volume("D:\\", free_gb=2.5), volume("E:\\", free_gb=50)])
    problem = low_free_space(record, 10)
    assert problem.startswith("volume D:\\ of VM 'web01' has 2.5 GB free, less than min_free_gb 10 GB")
    assert "Hyper-V pauses the VM" in problem


@pytest.mark.parametrize("min_free_gb", [None, 0, -1])
def test_no_minimum_means_no_check(min_free_gb):
    assert low_free_space(vm(volumes=[volume(free_gb=0)]), min_free_gb) is None
    assert min_free_bytes(min_free_gb) == 0


def test_exactly_the_minimum_is_enough_and_a_fraction_counts():
    assert low_free_space(vm(volumes=[volume(free_gb=10)]), 10.0) is None
    assert low_free_space(vm(volumes=[volume(free_gb=0.5)]), 0.75) is not None
    assert min_free_bytes(0.75) == int(0.75 * GIB)


def test_unknown_free_space_is_not_low_but_is_listed():
    share = volume("\\\\fs01\\vms", free_gb=None, size_gb=None)
    record = vm(volumes=[share, volume("C:\\", free_gb=400)])
    assert low_free_space(record, 100) is None
    assert unknown_free_space(record) == ["\\\\fs01\\vms"]
    assert lowest_free_bytes(record) == 400 * GIB
    assert lowest_free_bytes(vm(volumes=[share])) is None
    assert low_free_space(vm(volumes=[]), 10) is None


def test_the_default_and_the_human_sizes():
    assert DEFAULT_MIN_FREE_GB == 10.0
    assert [human_bytes(n) for n in (512, 2048, 5 * 1024 ** 2, int(1.5 * GIB), 3 * 1024 ** 4)] == [
        "512 bytes", "2.0 KB", "5.0 MB", "1.5 GB", "3.0 TB"]
