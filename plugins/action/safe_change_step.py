# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.safe_change_step: one step of the role safe_change.

The role's tasks only sequence these steps and run the user's own change and verification tasks;
every decision is made in plugin_utils (_safe_change_preflight, _safe_change_groups, _safe_change_record)
and carried out here or in _safe_change_steps. A step never fails the task for what happens to the change
(a refusal, a failed revert): it records it in the run's state, and the role fails the guest at the end,
after the summary. The one exception is ``verify``, whose failure is the change's failure that the role's
rescue catches.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from ansible.errors import AnsibleError
from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_groups as groups
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_preflight as preflight
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_record as record
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_steps as steps
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError, sentence
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._host_vars import host_var, safe_change_group
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_client import host_steps
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_content import change_problems
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_guest import (
    CheckFailed,
    GuestChecks,
    guest_family,
    open_url_status,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_options import (
    is_lockstep,
    option_problems,
    requested_by,
    templated_options,
    unknown_variable_warnings,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_run import RunState, of_this_run, run_in
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_summary import summarize
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._utc_time import utc_now

display = Display()

CONTROLLER_NAMES = ("localhost", "127.0.0.1", "::1")
RUN = dict(type="dict", required=True)
# checkpoint, verify and settle run once per guest: the role's tasks give them no options to template, and they read
# the role's registered results themselves (role_inputs).
RUN_OR_ROLE = dict(type="dict")
PHASES = ("after_change", "after_revert")
# The options of each step: a step refuses the options of the others.
STEP_OPTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "prepare": {},
    "checkpoint": dict(run=RUN_OR_ROLE),
    "form_groups": {},
    "group_checkpoint": dict(run=RUN),
    "gate": dict(formed=dict(type="raw"), created=dict(type="list", elements="dict")),
    "verify": dict(run=RUN_OR_ROLE, phase=dict(type="str", choices=list(PHASES)),
                   reachable_only=dict(type="bool", default=False)),
    "group_check": dict(run=RUN, gate=dict(type="raw")),
    "revert": dict(run=RUN, verified=dict(type="raw"), failure=dict(type="raw")),
    "finish": dict(run=RUN, verified=dict(type="raw"), failure=dict(type="raw")),
    "settle": dict(run=RUN_OR_ROLE, verified=dict(type="raw"), reverted=dict(type="raw"), finished=dict(type="raw")),
    "summary": dict(summary=dict(type="bool", default=True), set_stats=dict(type="bool", default=True),
                    results_file=dict(type="str", default="")),
}
STEP = dict(type="str", required=True, choices=list(STEP_OPTIONS))


class ActionModule(HyperVActionBase):

    # Every step's options, for the documentation; each task is validated against its own step's.
    ARGUMENT_SPEC = dict(step=STEP, **{option: dict(spec, required=False) for options in STEP_OPTIONS.values()
                                       for option, spec in options.items()})

    def argument_spec(self) -> dict[str, dict[str, Any]]:
        step = self._task.args.get("step")
        return dict(step=STEP, **STEP_OPTIONS[step]) if step in STEP_OPTIONS else self.ARGUMENT_SPEC

    def run_checked(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = getattr(self, "_step_" + args["step"])
        started = time.time()
        args = dict(args, **role_inputs(args, task_vars))
        if args["step"] in ROLE_INPUT_STEPS and not isinstance(args.get("run"), dict):
            raise AnsibleError("the step %s found no run: it follows the role's step %s, or takes the option run"
                               % (args["step"], "gate" if args["step"] == "settle" else "prepare"))
        if isinstance(args.get("run"), dict):
            # The options are templated again in each step rather than carried in the run: the run
            # travels through the controller's main process with every result, which is the bottleneck
            # of a large window, and the workers that template them run in parallel.
            run = RunState.from_dict(args["run"])
            run.options = templated_options(self._templar, task_vars)[0]
            args["run"] = run.to_dict()
        result = handler(args, task_vars)
        if isinstance(result.get("run"), dict):
            result["run"] = {key: value for key, value in result["run"].items() if key != "options"}
        result.setdefault("changed", False)
        result["started_at"] = started
        result["ended_at"] = time.time()
        return result

    # prepare: on the guest, nothing on the Hyper-V host ----------------------------------------

    def _role_tasks(self) -> str:
        """The role's own tasks directory. Its files are named by their full path: Ansible looks for a relative
        name in the playbook's folder too, where a user's tasks/verify.yml would replace the role's."""
        return os.path.join(self._task._role._role_path, "tasks")

    def _step_prepare(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        if self._task._role is None:
            raise AnsibleError("hyperv.checkpoint.safe_change_step runs inside the role hyperv.checkpoint.safe_change")
        inventory_name = task_vars["inventory_hostname"]
        options, problems = templated_options(self._templar, task_vars)
        hyperv_host = options.get("hyperv_host")
        known_host = bool(hyperv_host) and hyperv_host in (task_vars.get("hostvars") or {})
        now = utc_now()
        run = RunState.begin(inventory_name, options.get("hyperv_vm_name") or inventory_name,
                             hyperv_host if known_host else None, str(options.get("safe_change_id") or "").strip(),
                             options, now, check_mode=bool(self._task.check_mode),
                             play=task_vars.get("ansible_play_name", ""), role_tasks=self._role_tasks())
        run.marks = {"preflight": started}
        strategy = str(self._task.get_play().strategy)
        run.lockstep = is_lockstep(strategy)
        warnings = unknown_variable_warnings(task_vars)
        if not problems:
            problems = option_problems(options, known_host, strategy)
        if not problems:
            run.requested_by = requested_by(options, task_vars, self._templar)
            run.checkpoint_name = names.build_name(options["safe_change_name_prefix"], run.change_id,
                                                   run.requested_by, now)
            problem = preflight.name_problem(run.checkpoint_name, options["safe_change_keep_hours"], now)
            problems = [problem] if problem else []
        if problems:
            return refused(run, "Invalid role variables", problems, warnings)
        problems = change_problems(self._task, self._loader, self._templar, options)
        if problems:
            return refused(run, "The change cannot run", problems, warnings)
        if preflight.only_reachability(options):
            warnings.append("safe_change only checks that the guest answers after the change: set "
                            "safe_change_verify_services, safe_change_verify_url, safe_change_verify_command or "
                            "safe_change_verify_tasks so that a broken change is noticed and reverted")
        why = self._guest_checks(options, task_vars).probe()
        if why is not None:
            # Refused by the next step, with what the Hyper-V host says (a VM that is off says more).
            run.guest_problem = ("the guest %s does not answer (%s); the change needs a guest that answers "
                                 "before it starts" % (inventory_name, why))
        run.proceed = True
        run.url_from_elsewhere = bool(options["safe_change_verify_url"]) and \
            options["safe_change_verify_url_from"] not in CONTROLLER_NAMES
        # A group member always verifies a second time: its last check is the mark the group waits for.
        run.verify_more = run.url_from_elsewhere or bool(options["safe_change_verify_tasks"]) or bool(run.group)
        return dict(run=run.to_dict(), warnings=warnings,
                    msg="VM %s on %s, checkpoint '%s'" % (run.vm, run.hyperv_host, run.checkpoint_name))

    # checkpoint and group_checkpoint: on the Hyper-V host ------------------------------------------

    def _host_steps(self, run: dict[str, Any], task_vars: dict[str, Any]) -> steps.HostSteps:
        """The Hyper-V side of the run, over this task's connection (delegated to the Hyper-V host)."""
        options = run["options"]
        return host_steps(lambda: self.hyperv_host(task_vars, options["safe_change_operation_timeout"],
                                                   follow=options["safe_change_follow_vm"]), run)

    def _checkpoint(self, run: dict[str, Any], task_vars: dict[str, Any], check_mode: bool,
                    group_preflight: bool) -> dict[str, Any]:
        try:
            run = self._host_steps(run, task_vars).checkpoint(run, check_mode, group_preflight=group_preflight)
        except HostError as error:
            run = steps.read_refusal(dict(run), error)
        if run["proceed"]:
            run["marks"]["change"] = time.time()
        return run

    def _step_checkpoint(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        run = args["run"]
        run = self._checkpoint(run, task_vars, bool(self._task.check_mode), bool(run.get("group")))
        changed = bool(run["checkpoint"].get("id")) and not run["checkpoint"].get("reused") or \
            steps.LEFT_OVERS_REMOVED in steps.note_codes(run)
        if run["would"] and not run.get("group"):
            # Check mode: what a real run would do is the point of the run, shown at any verbosity
            # (for a group member by the step form_groups, with its group).
            display.display("\n".join(["%s: check mode, nothing was changed. A real run would:" % run["host"]]
                                      + ["  - " + line for line in run["would"]]))
        return dict(run=run, changed=changed, msg=run["reason"] or "checkpoint '%s' (id %s)" % (
            run["checkpoint"].get("name"), run["checkpoint"].get("id")))

    def _step_group_checkpoint(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """One member's checkpoint, for the group (a loop over the members, delegated to each one's host)."""
        # In a loop Ansible keeps the connection of the item before when the address is the same, even
        # when the port or the user differ: members on two hosts behind one address would share it.
        if getattr(self._connection, "connected", False):
            self._connection.close()
        run = self._checkpoint(args["run"], task_vars, False, False)
        return dict(run=run, changed=bool(run["checkpoint"].get("id")),
                    msg=run["reason"] or "checkpoint '%s' (id %s) of the group's member %s" % (
                        run["checkpoint"].get("name"), run["checkpoint"].get("id"), run["host"]))

    # verify: on the guest ----------------------------------------------------------------------

    def _guest_checks(self, options: dict[str, Any], task_vars: dict[str, Any]) -> GuestChecks:
        host = task_vars["inventory_hostname"]
        family = guest_family(options["safe_change_guest_family"], getattr(self._connection._shell, "SHELL_FAMILY", ""))
        return GuestChecks(host, self._guest_command, self._reset_guest_connection, open_url=open_url_status,
                           family=family, log=lambda text: display.vvv(text, host=host),
                           progress=lambda text: display.display("%s: %s" % (host, text)))

    def _guest_command(self, command: str) -> tuple[int | None, str, str]:
        result = self._low_level_execute_command(command, sudoable=False)
        return result.get("rc"), result.get("stdout") or "", result.get("stderr") or ""

    def _reset_guest_connection(self) -> None:
        try:
            self._connection.reset()
        except Exception as error:  # the next probe reports why the guest does not answer
            display.vvv("resetting the connection failed: %s" % error)

    def _step_verify(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        run = args["run"]
        options = run["options"]
        checks = self._guest_checks(options, task_vars)
        outcome = dict(run_id=run["run_id"], phase=args["phase"])
        try:
            if args["reachable_only"]:
                checks.wait_until_answers(min(options["safe_change_reachable_timeout"], 30))
                # The last check of the verification: a group member that got here passed (group_check).
                return dict(outcome, final=True, msg="the guest answers")
            checks.verify(options, url_from_controller=not run["url_from_elsewhere"])
        except CheckFailed as failure:
            return dict(outcome, failed=True, msg=str(failure))
        return dict(outcome, msg="verified: %s" % preflight.verify_text(options))

    # revert, finish and settle: on the Hyper-V host --------------------------------------------

    def _step_revert(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """The change or its verification failed (the role's rescue): restore the checkpoint."""
        run = dict(args["run"])
        verified = args.get("verified")
        if isinstance(verified, dict) and verified.get("run_id") == run["run_id"]:
            run["marks"] = dict(run["marks"], verify=verified.get("started_at"))
        run["failure"] = steps.failure_of(run, dict(args.get("failure") or {}, run_id=run["run_id"]), verified)
        if run.get("lockstep"):
            ended = record.own_end(run, verified, other_verifications(task_vars, run["host"]))
            if ended is not None:
                run["marks"] = dict(run["marks"], waiting=ended)
        return changed_on_host(run, recorded(self._host_steps(run, task_vars).revert(run)))

    def _step_finish(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """After the verification that follows a restore: delete the checkpoint, or keep it."""
        run = dict(args["run"])
        verified = args["verified"] if isinstance(args.get("verified"), dict) else {}
        verified_now = verified.get("run_id") == run["run_id"] and verified.get("phase") == "after_revert"
        if verified_now:
            run["marks"] = dict(run["marks"], post_revert_verify=verified.get("started_at"))
        captured = args.get("failure")
        if isinstance(captured, dict) and captured.get("run_id") == run["run_id"]:
            problem = record.failure_message(captured.get("result"))
        elif verified_now and not verified.get("failed"):
            problem = None
        else:
            problem = "the verification after the revert did not run"
        return changed_on_host(run, recorded(self._host_steps(run, task_vars).after_revert(run, problem)))

    def _step_settle(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """The end of the run on the host: a refusal is recorded; a change that passed is committed;
        a revert (done in the rescue) is taken as it ended; a withdrawn group member deletes its checkpoint."""
        run = dict(args["run"])
        for done in (of_this_run(args.get("finished"), run), of_this_run(args.get("reverted"), run)):
            if done is not None:
                return recorded(done["run"])
        if run.get("withdraw"):
            return changed_on_host(run, recorded(self._host_steps(run, task_vars).withdraw(run)))
        if not run.get("proceed"):
            return recorded(run)
        verified = args.get("verified")
        if isinstance(verified, dict) and verified.get("run_id") == run["run_id"]:
            run["marks"] = dict(run["marks"], verify=verified.get("started_at"))
        return changed_on_host(run, recorded(self._host_steps(run, task_vars).commit(run)))

    # Application groups: form_groups, group_checkpoint, gate (once per batch) and group_check -------

    def _step_form_groups(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Once per batch, after every guest's pre-flight: the groups, and who takes a checkpoint now."""
        batch = {}
        for host in task_vars.get("ansible_play_batch", []):
            run = run_in(host_var(task_vars, host, "__safe_change_checkpointed")) or \
                run_in(host_var(task_vars, host, "__safe_change_prepared"))
            if run is not None:
                batch[host] = run
        names_used = set(groups.group_of(run) for run in batch.values()) - {""}
        inventory_members: dict[str, list[str]] = {name: [] for name in names_used}
        if names_used:
            for host in (task_vars.get("groups") or {}).get("all", []):
                name = groups.group_of(batch[host]) if host in batch else safe_change_group(task_vars, host)
                if name in inventory_members:
                    inventory_members[name].append(host)
        formed = groups.form(batch, list(task_vars.get("ansible_play_hosts_all", [])), inventory_members,
                             utc_now(), check_mode=bool(self._task.check_mode))
        for host, group in ((host, group) for group in formed["groups"].values() for host in group["members"]):
            if self._task.check_mode and not group["problem"]:
                display.display("%s: check mode, as a member of the group, a real run would:\n%s" % (
                    host, "\n".join("  - " + line for line in formed["runs"][host]["would"])))
        return dict(formed=formed, msg="%d group(s); %d checkpoint(s) to take together" % (
            len(formed["groups"]), len(formed["create"])))

    def _step_gate(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Once per batch, after the group's checkpoints: the run each guest goes on with."""
        formed = args.get("formed") or {}
        created = {}
        # The results of the group_checkpoint loop only: the whole registered result of a loop over no items
        # carries 'skipped_reason', which ansible-core 2.21 deprecates when it is templated.
        for item in args.get("created") or []:
            run = run_in(item)
            if run is not None:
                created[run["host"]] = {key: value for key, value in run.items() if key != "options"}
        gated = groups.gate(formed, created)
        # With groups of several orders the changes run level by level, lowest first, and the reverts
        # level by level, highest first (change_in_order.yml, the role's rescue); else all at once.
        for run in gated["runs"].values():
            if gated["levels"]:
                run["change_file"] = os.path.join(self._role_tasks(), "change_in_order.yml")
            run["revert_level"] = (run.get("group_order") or 0) if gated["levels"] else None
        gated["revert_levels"] = list(reversed(gated["levels"])) or [None]
        return dict(gated, msg="%d guest(s), %d group(s)" % (len(gated["runs"]), len(gated["groups"])))

    def _step_group_check(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """After a member's verification: fail it when a member of its group did not pass, so that it reverts."""
        run, gated = args["run"], args.get("gate") or {}
        group = gated.get("groups", {}).get(run.get("group"))
        if not group:
            return dict(msg="no group")
        passed = {}
        for member in group["members"]:
            mark = host_var(task_vars, member, "__safe_change_verified_again")
            member_run = gated["runs"].get(member) or {}
            passed[member] = bool(isinstance(mark, dict) and mark.get("final") and not mark.get("failed") and
                                  mark.get("run_id") == member_run.get("run_id"))
        problem = groups.group_check(run["host"], group, passed)
        if problem:
            return dict(failed=True, group_failure=True, msg=problem)
        return dict(msg="every member of the group %s passed" % run["group"])

    # summary: once per play (batch), on the controller -------------------------------------------

    def _step_summary(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """The records of this batch (for the fact safe_change_result), the summary table and the artifacts."""
        return summarize(task_vars, display.display if args["summary"] else None, args["set_stats"],
                         args["results_file"], lockstep=is_lockstep(str(self._task.get_play().strategy)))


# What a step reads from the role's registered results when its task does not give it. The role's tasks give
# nothing: these steps run once per guest, and in each worker a templated option costs a Jinja compile, and a filter
# in it (default(omit)) the import of every filter plugin (docs/performance.md).
ROLE_INPUT_STEPS = ("checkpoint", "verify", "settle")


def role_inputs(args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
    """The options ``args`` lacks that step ``args["step"]`` reads from the role's registered results."""
    step, found = args["step"], {}
    if step not in ROLE_INPUT_STEPS:
        return {}
    if step == "settle":
        gate = task_vars.get("__safe_change_gate")
        runs = gate.get("runs") if isinstance(gate, dict) else None
        run = runs.get(task_vars.get("inventory_hostname")) if isinstance(runs, dict) else None
        found["run"] = run
        for option, registered in (("verified", "__safe_change_verified"), ("reverted", "__safe_change_reverted"),
                                   ("finished", "__safe_change_finished")):
            found[option] = task_vars.get(registered)
    else:
        found["run"] = run_in(task_vars.get("__safe_change_prepared"))
    if step == "verify":
        phase = task_vars.get("safe_change_phase", "after_change")
        if phase not in PHASES and args.get("phase") is None:
            # The role sets it; only an extra variable (-e), which wins over the role's, can make it anything else.
            raise AnsibleError("safe_change_phase is %r: the role sets it to one of %s for your verification tasks; do "
                               "not set it yourself" % (phase, ", ".join(PHASES)))
        found["phase"] = phase
    return {option: value for option, value in found.items() if args.get(option) is None and value is not None}


def refused(run: RunState, what: str, problems: list[str], warnings: list[str]) -> dict[str, Any]:
    """prepare's result when pre-flight refuses the change for ``problems``."""
    text = sentence("%s: %s" % (what, "; ".join(problem.rstrip(".") for problem in problems)))
    stopped = steps.preflight_refusal(run.to_dict(), text)
    return dict(run=stopped, warnings=warnings, msg=stopped["reason"])


def other_verifications(task_vars: dict[str, Any], host: str) -> list[Any]:
    """The registered verify steps of the batch's other guests (of any run: own_end keeps the recent ones)."""
    return [host_var(task_vars, other, "__safe_change_verified")
            for other in task_vars.get("ansible_play_batch", []) if other != host]


def changed_on_host(before: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with ``changed`` when its step changed the host: the checkpoint restored, renamed, or deleted
    (or perhaps deleted: a delete whose answer never came). A restore the host refused changed nothing."""
    was, now = before.get("checkpoint") or {}, result["run"].get("checkpoint") or {}
    gone = ("deleted", "unknown")
    restored = bool(now.get("restored")) and not was.get("restored")
    deleted = now.get("state") in gone and was.get("state") not in gone
    return dict(result, changed=restored or deleted or now.get("name") != was.get("name"))


def recorded(run: dict[str, Any]) -> dict[str, Any]:
    """The result of a step that ends the run: the run and its record (the fact safe_change_result)."""
    result = record.result_record(run, time.time())
    # A checkpoint the run could not delete, or whose delete lost the host, shows at once, not only in the table.
    warnings = [note["text"] for note in run.get("notes") or [] if note["code"] in steps.WARNED_NOTES]
    return dict(run=run, record=result, msg=result["summary"], warnings=warnings)
