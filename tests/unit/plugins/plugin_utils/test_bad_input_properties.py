# -*- coding: utf-8 -*-
"""Property tests (hypothesis) over names and option combinations.

- The wire: whatever a name holds, the command line is the fixed runner stub and the name
  travels only inside the one-line JSON request on stdin, which decodes back to exactly it.
- The name rules: a name is refused exactly when it holds a control character.
- The planners: any options against any VM give a plan or a PlanError that names the
  problem, never another exception.
"""

from __future__ import annotations

import base64
import gzip

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.loader import shell_loader
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ansible_collections.hyperv.checkpoint.plugins.action import hyperv_checkpoint as action
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._checkpoint_tree import render_tree
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import PlanError
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _operation_runner as operation_runner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _type_planner as type_planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._option_rules import (
    OptionError,
    control_character,
    normalize_name_options,
)

from hyperv_records import NOW, VM_ID, ago, checkpoint, cp_id, host_record, vm

# Every character hypothesis can make, control characters and astral planes included.
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=220)
HOSTILE = st.sampled_from(["a'b\"c $(Remove-VM x) `; Remove-VM -Name * ", "*", "[a-z]?", "\x00", "line\nbreak",
                           "x" * 200, "", "   ", "Prüfung ✓ 雪 🦄", "'; Remove-VM -Name * -Force #", "${env:PATH}"])
NAMES = st.one_of(ANY_TEXT, HOSTILE)


class RecordingConnection:
    """What the runner hands to the connection plugin, answered with an empty success."""

    def __init__(self):
        self._shell = shell_loader.get("powershell")
        self.calls = []

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.calls.append((cmd, in_data))
        return 0, b'{"ok":true,"result":{}}\r\n', b""


FIXED_COMMAND = operation_runner.build_command()


@given(name=NAMES, vm_name=NAMES)
def test_a_name_travels_only_as_json_data_on_stdin(name, vm_name):
    connection = RecordingConnection()
    operation_runner.run_operation(connection, "create_checkpoint", {"VMId": VM_ID, "Name": name})
    operation_runner.run_operation(connection, "get_vms", {"Names": [vm_name], "Ids": [], "All": False})
    for (command, stdin), params in zip(connection.calls, ({"VMId": VM_ID, "Name": name},
                                                           {"Names": [vm_name], "Ids": [], "All": False})):
        assert command == FIXED_COMMAND  # the command line never depends on the input
        assert stdin.endswith(b"\n") and stdin.count(b"\n") == 1  # one line: a newline in a name cannot split it
        stdin.decode("ascii")  # no code page on the host can mangle it
        # The line packs the JSON document (gzip, base64); unpacked, it is ASCII JSON as well.
        gzip.decompress(base64.b64decode(stdin.strip(), validate=True)).decode("ascii")
        request = operation_runner.decode_request(stdin)
        assert request["params"] == params  # exactly the name, nothing added or lost
        assert request["script"] == operation_runner.wire_form(operation_runner._read_script(request["name"] + ".ps1"))


@given(name=ANY_TEXT)
def test_a_name_is_refused_exactly_when_it_holds_a_control_character(name):
    spec = {"name": {"type": "str"}, "vm": {"type": "list", "elements": "str"}}
    try:
        normalized = normalize_name_options(spec, ("name", "vm"), {"name": name, "vm": name})
    except OptionError as error:
        index, character = control_character(name)
        assert "U+%04X" % ord(character) in str(error) and "position %d" % (index + 1) in str(error)
        assert error.message.startswith("name ")
    else:
        assert control_character(name) is None
        assert normalized == {"name": name, "vm": [name]}  # literally, and a lone string is one VM


CHECKPOINT_NAMES = st.one_of(st.sampled_from(["nightly", "ci-1", "ci-2", "*", "[x]"]), ANY_TEXT.filter(bool))


@st.composite
def vms(draw):
    names = draw(st.lists(CHECKPOINT_NAMES, max_size=6))
    checkpoints = []
    for number, name in enumerate(names, 1):
        parent = draw(st.one_of(st.none(), st.integers(1, number))) if number > 1 else None
        checkpoints.append(checkpoint(number, name, parent=parent if parent != number else None,
                                      created=ago(hours=draw(st.integers(0, 2000))),
                                      snapshot_type=draw(st.sampled_from(["Standard", "Standard", "Recovery"]))))
    current = draw(st.one_of(st.none(), st.integers(1, len(checkpoints)))) if checkpoints else None
    return vm(checkpoints=checkpoints, current=current,
              checkpoint_type=draw(st.sampled_from(["Standard", "Production", "ProductionOnly", "Disabled", None])),
              merging=draw(st.booleans()))


DURATIONS = st.one_of(st.integers(-5, 10 ** 6), st.sampled_from(["7d", "48h", "90m", "0", "-1h", "2w", "x", ""]),
                      ANY_TEXT)


def sometimes(strategy):
    """Mostly None: every option set at random would refuse almost every combination."""
    return st.one_of(st.none(), st.none(), st.none(), strategy)


@st.composite
def options(draw, a_vm):
    """The task's options: one way of addressing checkpoints, plus at random any other option (contradictions)."""
    ids = [cp["id"] for cp in a_vm["checkpoints"]]
    existing_names = st.sampled_from([cp["name"] for cp in a_vm["checkpoints"]] or ["nightly"])
    values = {name: spec.get("default") for name, spec in action.ActionModule.ARGUMENT_SPEC.items()}
    values.update(vm="web01", state=draw(st.sampled_from(["present", "absent", "restored"])))
    way = draw(st.sampled_from(["name", "id", "cleanup", "rename"]))
    if way == "name":
        values["name"] = draw(st.one_of(existing_names, NAMES))
    elif way == "id":
        values["checkpoint_id"] = draw(st.one_of(st.sampled_from(ids or [cp_id(99)]), NAMES))
    elif way == "cleanup":
        values["name_prefix" if draw(st.booleans()) else "name_pattern"] = draw(st.one_of(existing_names, NAMES))
        values["older_than"] = draw(sometimes(DURATIONS))
        values["keep_newest"] = draw(sometimes(st.integers(-3, 8)))
    else:
        values["name"] = draw(existing_names)
        values["new_name"] = draw(st.one_of(existing_names, NAMES))
    values.update(
        name=values["name"] if values["name"] is not None else draw(sometimes(NAMES)),
        checkpoint_id=values["checkpoint_id"] or draw(sometimes(st.sampled_from(ids or [cp_id(99)]))),
        new_name=values["new_name"] if values["new_name"] is not None else draw(sometimes(NAMES)),
        name_prefix=values["name_prefix"] if values["name_prefix"] is not None else draw(sometimes(NAMES)),
        max_age=draw(sometimes(DURATIONS)),
        include_children=draw(st.booleans()),
        all_with_name=draw(st.booleans()),
        checkpoint_type=draw(st.sampled_from([None, None, "standard", "production", "production_only"])),
        power_state=draw(st.sampled_from(["previous", "running", "off", "as_checkpoint"])),
    )
    return values


def spec_errors(args):
    """The argument spec's rules (required_if, mutually exclusive) on the drawn options, as the action applies them."""
    spec = action.ActionModule
    validator = ArgumentSpecValidator(spec.ARGUMENT_SPEC, mutually_exclusive=spec.MUTUALLY_EXCLUSIVE,
                                      required_one_of=spec.REQUIRED_ONE_OF, required_if=spec.REQUIRED_IF)
    return validator.validate({key: value for key, value in args.items() if value is not None}).error_messages


@settings(max_examples=2 * settings.default.max_examples)  # the widest input space
@given(data=st.data())
def test_the_checkpoint_planner_plans_or_names_the_problem(data):
    a_vm = data.draw(vms())
    args = data.draw(options(a_vm))
    if spec_errors(args):
        event("refused by the argument spec's rules")
        return
    try:
        # the action's path: option checks, plan, then what check and diff mode render
        args = action.check_options(args)
        plan = planner.plan(args, a_vm, NOW)
        checkpoints, current = planner.predict_checkpoints(a_vm, plan.actions)
        render_tree(checkpoints, current)
        planner.checkpoint_view(plan.checkpoint, a_vm)
    except PlanError as error:
        event("refused: %s" % error.code)
        assert error.code and error.message.strip()
        if error.code == "invalid_option":
            assert any(option in error.message for option in args), error.message  # names the option
        return
    event("planned: %s" % ",".join(step["action"] for step in plan.actions))
    for step in plan.actions:
        if step["action"] == "create":
            assert step["name"] == args["name"]  # literally the name asked for
        if step["action"] == "remove":
            assert set(step["checkpoint_ids"]) <= {cp["id"] for cp in a_vm["checkpoints"]}


@given(checkpoint_type=st.sampled_from([None, "standard", "production", "production_only", "disabled"]),
       automatic=st.sampled_from([None, True, False]), location=st.one_of(st.none(), NAMES),
       a_vm=vms())
def test_the_type_planner_plans_or_names_the_problem(checkpoint_type, automatic, location, a_vm):
    args = {"checkpoint_type": checkpoint_type, "automatic_checkpoints": automatic, "checkpoint_location": location}
    try:
        wanted = type_planner.desired_settings(args)
        entries, changes = type_planner.plan_settings(host_record(), [a_vm], wanted)
    except PlanError as error:
        assert error.code and error.message.strip()
        return
    assert len(entries) == 1 and len(changes) <= 1
    if changes and location is not None and changes[0]["CheckpointLocation"] is not None:
        assert changes[0]["CheckpointLocation"] == location  # literally the path asked for
