"""Malformed host answers over real WinRM: a clear task failure with the host's words, never a traceback.

The simulator answers the runner's reads with the corrupted replies of
hyperv_sim.corrupt_replies, one per task, in the order of KINDS.
"""

from __future__ import annotations

import json

import pytest
from hyperv_sim import corrupt_replies

pytestmark = pytest.mark.integration

# kind -> what the task's message must contain (the host's own words, or what was wrong)
EXPECTED = {
    "not_json": ["did not answer with the runner's JSON document",
                 "Welcome to HV01, Contoso Datacenter"],
    "truncated_json": ["did not answer with the runner's JSON document", '{"ok":true,"result":{"host":'],
    "clixml_error": ["You do not have the required permission to complete this task."],
    "broken_clixml": ["could not read the host's answer"],
    "empty_exit": ["rc=1", "no output"],
    "unknown_code": [corrupt_replies.UNKNOWN_CODE_MESSAGE,
                     "error code '%s' is not one this version of the collection knows" % corrupt_replies.UNKNOWN_CODE],
    "shapeless_result": ["does not follow the protocol (docs/host-protocol.md)", "get_vms result: missing key 'host'"],
}
PLAYBOOK = """
- hosts: hyperv
  gather_facts: false
  tasks:
    - name: Read checkpoints while the host answers garbage
      hyperv.checkpoint.hyperv_checkpoint_info:
        vm: web01
      loop: %(kinds)s
      register: corrupted
      ignore_errors: true

    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ corrupted.results | to_json }}"
        dest: %(results)s
        mode: "0600"
      delegate_to: localhost
      vars:
        ansible_connection: local
"""


def test_malformed_answers_fail_the_task_with_the_hosts_words(lab):
    kinds = list(corrupt_replies.KINDS)
    assert set(kinds) == set(EXPECTED)
    for kind in kinds:
        lab.host.corrupt_reply("get_vms", kind)
    results_file = lab.tmp_path / "results.json"
    playbook = lab.tmp_path / "malformed.yml"
    playbook.write_text(PLAYBOOK % {"kinds": json.dumps(kinds), "results": json.dumps(str(results_file))})

    run = lab.playbook(playbook, verbosity=3)

    assert run.rc == 0, run  # every failure was expected (ignore_errors)
    results = json.loads(results_file.read_text())
    assert [result["item"] for result in results] == kinds
    for kind, result in zip(kinds, results):
        assert result["failed"] is True, (kind, result)
        for words in EXPECTED[kind]:
            assert words in result["msg"], (kind, result["msg"])
        # at -vvv ansible-core 2.19 attaches the traceback of an exception; a plain failure has none
        assert result.get("exception", "(traceback unavailable)") == "(traceback unavailable)", (kind, result)
    assert "Traceback" not in run.stdout + run.stderr
    assert lab.host.summary()["faults"] == []  # every corrupted answer was used up by its task
