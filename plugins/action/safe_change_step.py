# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of hyperv.checkpoint.safe_change_step: one step of the role safe_change.

The role's tasks only sequence these steps and run the user's own change and verification tasks;
every decision is made in plugin_utils (_safe_change_plan, _safe_change_record) and carried out
here or in _safe_change_steps. A step never fails the task for what happens to the change (a
refusal, a failed revert): it records it in the run's state, and the role fails the guest at the
end, after the summary. The one exception is ``verify``, whose failure is the change's failure
that the role's rescue catches.
"""

from __future__ import annotations

import difflib
import os
import time
import uuid

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.utils.display import Display

from ansible_collections.hyperv.checkpoint.plugins.action.hyperv_checkpoint import wait_for_merge
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_groups as groups
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_names as names
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_plan as plan
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_record as record
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _safe_change_steps as steps
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_planner as planner
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _checkpoint_types as checkpoint_types
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils import _free_space as free_space
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_content import ChangeChecker, error_text
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._safe_change_guest import (
    CheckFailed,
    GuestChecks,
    guest_family,
)
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._action_base import HyperVActionBase
from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._errors import HostError, error_message

display = Display()

STEPS = ("prepare", "checkpoint", "plan", "group_checkpoint", "gate", "verify", "group_check", "revert", "finish",
         "settle", "summary", "hold", "batches")
# Variables the role sets or publishes itself: not typos of its options.
ROLE_OUTPUTS = ("safe_change_result", "safe_change_results")
CONTROLLER_NAMES = ("localhost", "127.0.0.1", "::1")


class ActionModule(HyperVActionBase):

    ARGUMENT_SPEC = dict(
        step=dict(type="str", required=True, choices=list(STEPS)),
        state=dict(type="dict"),
        verified=dict(type="raw"),
        failure=dict(type="raw"),
        reverted=dict(type="raw"),
        finished=dict(type="raw"),
        planned=dict(type="raw"),
        created=dict(type="list", elements="dict"),
        gate=dict(type="raw"),
        phase=dict(type="str", default="change", choices=["change", "after_revert"]),
        reachable_only=dict(type="bool", default=False),
        summary=dict(type="bool", default=True),
        set_stats=dict(type="bool", default=True),
        results_file=dict(type="str", default=""),
        # hold (playbooks/checkpoint.yml)
        vm=dict(type="str"),
        change_id=dict(type="str"),
        name_prefix=dict(type="str", default="safe_change"),
        requested_by=dict(type="str", default=""),
        checkpoint_type=dict(type="str", default="", choices=["", *checkpoint_types.REQUESTABLE]),
        lock_minutes=dict(type="int", default=120),
        operation_timeout=dict(type="int", default=600),
        # batches (playbooks/patch_window.yml)
        hosts_to_batch=dict(type="list", elements="str", default=[]),
        batch_size=dict(type="str", default="1"),
    )
    # hold's checkpoint_type: Hyper-V's spelling (ProductionOnly) too, as the modules take it.
    TYPE_OPTIONS = ("checkpoint_type",)

    def run_checked(self, args, task_vars):
        handler = getattr(self, "_step_" + args["step"])
        started = time.time()
        if isinstance(args.get("state"), dict):
            # The options are templated again in each step rather than carried in the state: the state
            # travels through the controller's main process with every result, which is the bottleneck
            # of a large window, and the workers that template them run in parallel.
            args["state"] = dict(args["state"], options=self._options(role_options(), task_vars)[0])
        result = handler(args, task_vars)
        if isinstance(result.get("state"), dict):
            result["state"] = {key: value for key, value in result["state"].items() if key != "options"}
        result.setdefault("changed", False)
        result["started_at"] = started
        return result

    # prepare: on the guest, nothing on the Hyper-V host ----------------------------------------

    def _step_prepare(self, args, task_vars):
        started = time.time()
        inventory_name = task_vars.get("inventory_hostname")
        spec = self._role_options()
        options, problems = self._options(spec, task_vars)
        hostvars = task_vars.get("hostvars") or {}
        hyperv_host = options.get("hyperv_host")
        known_host = bool(hyperv_host) and hyperv_host in hostvars
        now = planner.utc_now()
        state = {
            "run_id": uuid.uuid4().hex,
            "host": inventory_name,
            "vm": options.get("hyperv_vm_name") or inventory_name,
            "hyperv_host": hyperv_host if known_host else None,
            "change_id": str(options.get("safe_change_id") or "").strip(),
            "started": names.format_time(now),
            "check_mode": bool(self._task.check_mode),
            "play": task_vars.get("ansible_play_name", ""),
            "options": options,
            "proceed": False,
            "outcome": "",
            "reason": "",
            "checkpoint": {},
            "notes": [],
            "would": [],
            "failure": {},
            "marks": {"preflight": started},
            "url_from_elsewhere": False,
            "verify_more": False,
            "prefix": options.get("safe_change_name_prefix"),
            "requested_by": "",
            "group": str(options.get("safe_change_group") or "").strip(),
            "group_order": options.get("safe_change_group_order") or 0,
            "change_file": options.get("safe_change_tasks") or "change_role.yml",
        }
        warnings = unknown_variable_warnings(task_vars, spec)
        if not problems:
            problems = plan.option_problems(options, known_host)
        if not problems:
            state["requested_by"] = self._requested_by(options, task_vars)
            state["checkpoint_name"] = names.build_name(options["safe_change_name_prefix"], state["change_id"],
                                                        state["requested_by"], now)
            problem = plan.name_problem(state["checkpoint_name"], options["safe_change_keep_hours"], now)
            problems = [problem] if problem else []
        if problems:
            text = "Invalid role variables: %s." % "; ".join(problem.rstrip(".") for problem in problems)
            return dict(state=steps.preflight_refusal(state, text), warnings=warnings, msg=state["reason"])
        problems = self._change_problems(options)
        if problems:
            text = "The change cannot run: %s." % "; ".join(problem.rstrip(".") for problem in problems)
            return dict(state=steps.preflight_refusal(state, text), warnings=warnings, msg=state["reason"])
        if plan.only_reachability(options):
            warnings.append("safe_change only checks that the guest answers after the change: set "
                            "safe_change_verify_services, safe_change_verify_url, safe_change_verify_command or "
                            "safe_change_verify_tasks so that a broken change is noticed and reverted")
        why = self._guest_checks(options, task_vars).probe()
        if why is not None:
            # Refused by the next step, with what the Hyper-V host says (a VM that is off says more).
            state["guest_problem"] = ("the guest %s does not answer (%s); the change needs a guest that answers "
                                      "before it starts" % (inventory_name, why))
        state["proceed"] = True
        state["url_from_elsewhere"] = bool(options["safe_change_verify_url"]) and \
            options["safe_change_verify_url_from"] not in CONTROLLER_NAMES
        # A group member always verifies a second time: its last check is the mark the group waits for.
        state["verify_more"] = state["url_from_elsewhere"] or bool(options["safe_change_verify_tasks"]) or \
            bool(state["group"])
        return dict(state=state, warnings=warnings,
                    msg="VM %s on %s, checkpoint '%s'" % (state["vm"], state["hyperv_host"], state["checkpoint_name"]))

    def _requested_by(self, options, task_vars):
        """Who runs the change: safe_change_requested_by, else the AWX user, else the controller's user."""
        for value in (options.get("safe_change_requested_by"), task_vars.get("awx_user_name"),
                      task_vars.get("tower_user_name")):
            if value:
                return str(self._templar.template(value))
        return os.environ.get("USER") or "ansible"

    def _role_options(self):
        """The role's options from its meta/argument_specs.yml: the one list of what the role knows."""
        if self._task._role is None:
            raise AnsibleError("hyperv.checkpoint.safe_change_step runs inside the role hyperv.checkpoint.safe_change")
        return role_options()

    def _options(self, spec, task_vars):
        """The role's variables, templated and converted to the types of the spec; and the problems met."""
        problems = []
        given = {}
        for name in spec:
            if name not in task_vars:
                continue
            try:
                given[name] = self._templar.template(task_vars[name])
            except AnsibleError as error:
                problems.append("%s cannot be templated: %s" % (name, error_text(error)))
        if "safe_change_checkpoint_type" in given:
            # Hyper-V's spelling (ProductionOnly, as results and inventory variables carry it) too.
            given["safe_change_checkpoint_type"] = checkpoint_types.option_value(given["safe_change_checkpoint_type"])
        validated = ArgumentSpecValidator(spec).validate(given)
        problems.extend(validated.error_messages)
        return dict(validated.validated_parameters), problems

    def _change_problems(self, options):
        """What keeps Ansible from running the change or the user's verification tasks."""
        role = self._task._role
        checker = ChangeChecker(self._loader, self._task.collections, templar=self._templar,
                                find_role=self._find_role, role_path=role._role_path)
        problems = []
        if options["safe_change_tasks"]:
            problems.extend(checker.check_tasks_file(options["safe_change_tasks"], "safe_change_tasks"))
        if options["safe_change_role"]:
            problems.extend(checker.check_role(options["safe_change_role"], "safe_change_role"))
        if options["safe_change_verify_tasks"]:
            problems.extend(checker.check_tasks_file(options["safe_change_verify_tasks"], "safe_change_verify_tasks"))
        return problems

    def _find_role(self, name, collection_list):
        """(path, collection or None) of the role ``name`` as include_role would find it."""
        from ansible.playbook.role.include import RoleInclude
        from ansible.plugins.loader import add_all_plugin_dirs

        play = self._task._parent._play if self._task._parent is not None else None
        included = RoleInclude.load(name, play=play, loader=self._loader, collection_list=collection_list)
        if not included._role_collection:
            # A classic role brings its own modules (library/, action_plugins/), as when it is included.
            add_all_plugin_dirs(included._role_path)
        return included._role_path, included._role_collection

    # checkpoint: on the Hyper-V host -----------------------------------------------------------

    def _host_steps(self, state, task_vars):
        """The Hyper-V side of the run, over this task's connection (delegated to the Hyper-V host)."""
        client = HostClient(lambda: self.hyperv_host(task_vars, state["options"]["safe_change_operation_timeout"]),
                            state["options"]["safe_change_merge_timeout"],
                            describe=lambda error: error_message(error, state["vm"]))
        return steps.HostSteps(client, alert=lambda text: display.display(text, color=C.COLOR_ERROR)), []

    def _step_checkpoint(self, args, task_vars):
        state = args["state"]
        hyperv, warnings = self._host_steps(state, task_vars)
        try:
            state = hyperv.checkpoint(state, bool(self._task.check_mode), group_preflight=bool(state.get("group")))
        except HostError as error:
            state = steps.read_refusal(dict(state), error)
        if state["proceed"]:
            state["marks"]["change"] = time.time()
        changed = bool(state["checkpoint"].get("id")) and not state["checkpoint"].get("reused") or \
            any(note.startswith("removed left-over") for note in state["notes"])
        if state["would"] and not state.get("group"):
            # Check mode: what a real run would do is the point of the run, shown at any verbosity
            # (for a group member by the step plan, with its group).
            display.display("\n".join(["%s: check mode, nothing was changed. A real run would:" % state["host"]]
                                      + ["  - " + line for line in state["would"]]))
        return dict(state=state, changed=changed, warnings=warnings,
                    msg=state["reason"] or "checkpoint '%s' (id %s)" % (
                        state["checkpoint"].get("name"), state["checkpoint"].get("id")))

    # verify: on the guest ----------------------------------------------------------------------

    def _guest_checks(self, options, task_vars):
        host = task_vars.get("inventory_hostname")
        family = guest_family(options["safe_change_guest_family"], getattr(self._connection._shell, "SHELL_FAMILY", ""))
        return GuestChecks(host, self._guest_command, self._reset_guest_connection, open_url=open_url_status,
                           family=family, log=lambda text: display.vvv(text, host=host))

    def _guest_command(self, command):
        result = self._low_level_execute_command(command, sudoable=False)
        return result.get("rc"), result.get("stdout") or "", result.get("stderr") or ""

    def _reset_guest_connection(self):
        try:
            self._connection.reset()
        except Exception as error:  # the next probe reports why the guest does not answer
            display.vvv("resetting the connection failed: %s" % error)

    def _step_verify(self, args, task_vars):
        state = args["state"]
        options = state["options"]
        checks = self._guest_checks(options, task_vars)
        outcome = dict(run_id=state["run_id"], phase=args["phase"])
        try:
            if args["reachable_only"]:
                checks.wait_until_answers(min(options["safe_change_reachable_timeout"], 30))
                # The last check of the verification: a group member that got here passed (group_check).
                return dict(outcome, final=True, msg="the guest answers")
            checks.verify(options, url_from_controller=not state["url_from_elsewhere"])
        except CheckFailed as failure:
            return dict(outcome, failed=True, msg=str(failure))
        return dict(outcome, msg="verified: %s" % plan.verify_text(options))

    # revert, finish and settle: on the Hyper-V host --------------------------------------------

    @staticmethod
    def _this_run(result, state):
        """The registered result of a step, when it belongs to this run (else None)."""
        if isinstance(result, dict) and isinstance(result.get("state"), dict) and \
                result["state"].get("run_id") == state["run_id"]:
            return result
        return None

    def _step_revert(self, args, task_vars):
        """The change or its verification failed (the role's rescue): restore the checkpoint."""
        state = dict(args["state"])
        verified = args.get("verified")
        if isinstance(verified, dict) and verified.get("run_id") == state["run_id"]:
            state["marks"] = dict(state["marks"], verify=verified.get("started_at"))
        state["failure"] = steps.failure_of(state, dict(args.get("failure") or {}, run_id=state["run_id"]), verified)
        hyperv, warnings = self._host_steps(state, task_vars)
        state = hyperv.revert(state)
        return dict(self._recorded(state), changed=True, warnings=warnings)

    def _step_finish(self, args, task_vars):
        """After the verification that follows a restore: delete the checkpoint, or keep it."""
        state = dict(args["state"])
        verified = args.get("verified")
        verified_now = isinstance(verified, dict) and verified.get("run_id") == state["run_id"] and \
            verified.get("phase") == "after_revert"
        if verified_now:
            state["marks"] = dict(state["marks"], post_revert_verify=verified.get("started_at"))
        captured = args.get("failure")
        if isinstance(captured, dict) and captured.get("run_id") == state["run_id"]:
            problem = record.failure_message(captured.get("result"))
        elif verified_now and not verified.get("failed"):
            problem = None
        else:
            problem = "the verification after the revert did not run"
        hyperv, warnings = self._host_steps(state, task_vars)
        state = hyperv.after_revert(state, problem)
        return dict(self._recorded(state), changed=True, warnings=warnings)

    def _step_settle(self, args, task_vars):
        """The end of the run on the host: a refusal is recorded; a change that passed is committed;
        a revert (done in the rescue) is taken as it ended; a withdrawn group member deletes its checkpoint."""
        state = dict(args["state"])
        for done in (self._this_run(args.get("finished"), state), self._this_run(args.get("reverted"), state)):
            if done is not None:
                return self._recorded(done["state"])
        if state.get("withdraw"):
            hyperv, warnings = self._host_steps(state, task_vars)
            return dict(self._recorded(hyperv.withdraw(state)), changed=True, warnings=warnings)
        if not state.get("proceed"):
            return self._recorded(state)
        verified = args.get("verified")
        if isinstance(verified, dict) and verified.get("run_id") == state["run_id"]:
            state["marks"] = dict(state["marks"], verify=verified.get("started_at"))
        hyperv, warnings = self._host_steps(state, task_vars)
        state = hyperv.commit(state)
        return dict(self._recorded(state), changed=True, warnings=warnings)

    @staticmethod
    def _recorded(state):
        result = record.result_record(state, time.time())
        return dict(state=state, record=result, msg=result["summary"])

    # hold: a checkpoint taken by hand (playbooks/checkpoint.yml), on the Hyper-V host ------------

    def _step_hold(self, args, task_vars):
        change_id = (args["change_id"] or "").strip()
        prefix = args["name_prefix"] or ""
        if not change_id or not prefix or " " in prefix or args["lock_minutes"] < 0:
            return dict(failed=True, msg="change_id is required (e.g. CHG0042); name_prefix must be one word; "
                                         "lock_minutes must be 0 or more")
        options = dict(role_defaults(), safe_change_name_prefix=prefix, safe_change_lock_minutes=args["lock_minutes"],
                       safe_change_checkpoint_type=args["checkpoint_type"],
                       safe_change_operation_timeout=args["operation_timeout"])
        now = planner.utc_now()
        name = names.build_name(prefix, change_id, args["requested_by"] or self._requested_by(options, task_vars),
                                now, manual=True)
        problem = plan.name_problem(name, 0, now)
        if problem:
            return dict(failed=True, msg=problem)
        vm = args["vm"] or task_vars.get("inventory_hostname")
        state = {"run_id": uuid.uuid4().hex, "host": task_vars.get("inventory_hostname"), "vm": vm,
                 "hyperv_host": self.host_label(task_vars), "change_id": change_id, "checkpoint_name": name,
                 "options": options, "checkpoint": {}, "notes": [], "outcome": "", "reason": "", "marks": {}}
        hyperv, warnings = self._host_steps(state, task_vars)
        state = hyperv.hold(state, bool(self._task.check_mode))
        if state["outcome"] != "held":
            return dict(failed=True, msg=state["reason"], warnings=warnings)
        checkpoint = dict(state["checkpoint"], vm_name=vm, vm_id=state.get("vm_id"))
        created = not checkpoint["reused"]
        text = "%s: %s checkpoint '%s' (id %s) of VM %s on %s" % (
            state["host"], ("would take" if self._task.check_mode else "took") if created else "found the", checkpoint[
                "name"], checkpoint.get("id") or "-", vm, state["hyperv_host"])
        display.display(text)
        return dict(changed=created, checkpoint=checkpoint, taken_type=checkpoint.pop("taken_type", None),
                    fell_back=checkpoint.pop("fell_back", None), warnings=warnings + state["notes"], msg=text)

    # Application groups: plan, group_checkpoint, gate (once per batch) and group_check ---------------

    def _step_plan(self, args, task_vars):
        """Once per batch, after every guest's pre-flight: the groups, and who takes a checkpoint now."""
        batch = {}
        for host in task_vars.get("ansible_play_batch", []):
            state = this_run_state(host_var(task_vars, host, "__safe_change_checkpointed")) or \
                this_run_state(host_var(task_vars, host, "__safe_change_prepared"))
            if state is not None:
                batch[host] = state
        names_used = set(groups.group_of(state) for state in batch.values()) - {""}
        inventory_members = {name: [] for name in names_used}
        if names_used:
            for host in (task_vars.get("groups") or {}).get("all", []):
                name = groups.group_of(batch[host]) if host in batch else self._group_var(task_vars, host)
                if name in inventory_members:
                    inventory_members[name].append(host)
        planned = groups.plan(batch, list(task_vars.get("ansible_play_hosts_all", [])), inventory_members,
                              planner.utc_now(), check_mode=bool(self._task.check_mode))
        for host, group in ((host, group) for group in planned["groups"].values() for host in group["members"]):
            if self._task.check_mode and not group["problem"]:
                display.display("%s: check mode, as a member of the group, a real run would:\n%s" % (
                    host, "\n".join("  - " + line for line in planned["states"][host]["would"])))
        return dict(planned=planned, msg="%d group(s); %d checkpoint(s) to take together" % (
            len(planned["groups"]), len(planned["create"])))

    def _group_var(self, task_vars, host):
        """safe_change_group of an inventory host outside this batch (templated, as the host would see it)."""
        try:
            value = task_vars["hostvars"][host].get("safe_change_group")
        except Exception:  # a host whose variables cannot be templated is no member of any group here
            return ""
        return str(value or "").strip()

    def _step_group_checkpoint(self, args, task_vars):
        """One member's checkpoint, for the group (a loop over the members, delegated to each one's host)."""
        state = args["state"]
        # In a loop Ansible keeps the connection of the item before when the address is the same, even
        # when the port or the user differ: members on two hosts behind one address would share it.
        if getattr(self._connection, "connected", False):
            self._connection.close()
        hyperv, warnings = self._host_steps(state, task_vars)
        try:
            state = hyperv.checkpoint(state, False)
        except HostError as error:
            state = steps.read_refusal(dict(state), error)
        if state["proceed"]:
            state["marks"]["change"] = time.time()
        return dict(state=state, changed=bool(state["checkpoint"].get("id")), warnings=warnings,
                    msg=state["reason"] or "checkpoint '%s' (id %s) of the group's member %s" % (
                        state["checkpoint"].get("name"), state["checkpoint"].get("id"), state["host"]))

    def _step_gate(self, args, task_vars):
        """Once per batch, after the group's checkpoints: the state each guest goes on with."""
        planned = args.get("planned") or {}
        created = {}
        # The results of the group_checkpoint loop only: the whole registered result of a loop over no items
        # carries 'skipped_reason', which ansible-core 2.21 deprecates when it is templated.
        for item in args.get("created") or []:
            if isinstance(item, dict) and isinstance(item.get("state"), dict):
                created[item["state"]["host"]] = {key: value for key, value in item["state"].items()
                                                  if key != "options"}
        gated = groups.gate(planned, created)
        # With groups of several orders the changes run level by level, lowest first, and the reverts
        # level by level, highest first (change_in_order.yml, the role's rescue); else all at once.
        for state in gated["states"].values():
            if gated["levels"]:
                state["change_file"] = "change_in_order.yml"
            state["revert_level"] = (state.get("group_order") or 0) if gated["levels"] else None
        gated["revert_levels"] = list(reversed(gated["levels"])) or [None]
        return dict(gated, msg="%d guest(s), %d group(s)" % (len(gated["states"]), len(gated["groups"])))

    def _step_group_check(self, args, task_vars):
        """After a member's verification: fail it when a member of its group did not pass, so that it reverts."""
        state, gated = args["state"], args.get("gate") or {}
        group = gated.get("groups", {}).get(state.get("group"))
        if not group:
            return dict(msg="no group")
        passed = {}
        for member in group["members"]:
            mark = host_var(task_vars, member, "__safe_change_verified_again")
            member_state = gated["states"].get(member) or {}
            passed[member] = isinstance(mark, dict) and mark.get("final") and not mark.get("failed") and \
                mark.get("run_id") == member_state.get("run_id")
        problem = groups.group_check(state["host"], group, passed)
        if problem:
            return dict(failed=True, group_failure=True, msg=problem)
        return dict(msg="every member of the group %s passed" % state["group"])

    # batches: serial batches that keep application groups whole (playbooks/patch_window.yml) ------

    def _step_batches(self, args, task_vars):
        hosts = args["hosts_to_batch"]
        try:
            ordered, sizes = groups.batches(hosts, {host: self._group_var(task_vars, host) for host in hosts},
                                            args["batch_size"])
        except ValueError as error:
            return dict(failed=True, msg="batch_size must be a number of guests (5) or a percentage (25%%): %s" % error)
        return dict(hosts=ordered, batches=sizes or [1],
                    msg="%d guest(s) in %d batch(es) of at most %s, application groups kept whole" % (
                        len(ordered), len(sizes), args["batch_size"]))

    # summary: once per play (batch), on the controller -------------------------------------------

    def _step_summary(self, args, task_vars):
        """The records of this batch (for the fact safe_change_result), the summary table and the artifacts."""
        batch = {}
        for host in task_vars.get("ansible_play_batch", []):
            settled = host_var(task_vars, host, "__safe_change_settled")
            if isinstance(settled, dict) and isinstance(settled.get("record"), dict):
                batch[host] = settled["record"]
        batch = record.with_group_outcomes(batch)
        records = {}
        for host in (task_vars.get("groups") or {}).get("all", []):
            value = batch.get(host) or host_var(task_vars, host, "safe_change_result")
            if isinstance(value, dict) and value.get("outcome") in record.OUTCOMES:
                records[host] = value
        play = task_vars.get("ansible_play_name", "")
        shown = [records[host] for host in task_vars.get("ansible_play_hosts_all", [])
                 if host in records and records[host].get("play", "") == play]
        result = {"changed": False, "records": batch,
                  "msg": "%d guest(s) in this play, %d in the run" % (len(shown), len(records))}
        if args["summary"]:
            display.display("\n".join(record.summary_table(shown)))
        artifacts = record.artifacts(records)
        if args["set_stats"]:
            result["ansible_stats"] = {"data": artifacts, "per_host": False, "aggregate": False}
        if args["results_file"]:
            problem = write_results(args["results_file"], artifacts)
            if problem:
                result["warnings"] = [problem]
        return result


ROLE_SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "safe_change", "meta",
                         "argument_specs.yml")
_role_options_cache = []


def role_options():
    """The options of the role safe_change (its meta/argument_specs.yml): name -> type, elements, default, choices.

    Read once per process: the strategy imports this plugin before it forks the workers, so they share it.
    """
    if not _role_options_cache:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(ROLE_SPEC, encoding="utf-8") as handle:
            spec = yaml.load(handle, Loader=loader)["argument_specs"]["main"]["options"]
        _role_options_cache.append({name: {key: value for key, value in option.items()
                                           if key in ("type", "elements", "default", "choices")}
                                    for name, option in spec.items()})
    return _role_options_cache[0]


role_options()


def role_defaults():
    """The role's options with their defaults, for a step that runs outside the role (hold)."""
    return {name: option.get("default") for name, option in role_options().items()}


class HostClient:
    """The operations of a run on the Hyper-V host, as HostSteps wants them (see there).

    The connection is opened at the first operation: a run that stops before needs none.
    """

    def __init__(self, connect, merge_timeout, describe):
        self._connect = connect
        self._host = None
        self._merge_timeout = merge_timeout
        self.describe = describe

    @property
    def host(self):
        if self._host is None:
            self._host = self._connect()
        return self._host

    def read(self, vm_name):
        return self.host.get_vm_with_checkpoints(name=vm_name)

    def create(self, vm_id, name, checkpoint_type, known_ids, min_free_gb, since, vm_type):
        return self.host.create_checkpoint(vm_id, name, checkpoint_type, known_ids=known_ids,
                                           min_free_bytes=free_space.min_free_bytes(min_free_gb), since=since,
                                           vm_type=vm_type)

    def delete(self, vm_id, checkpoint_id):
        started = time.monotonic()
        reply = self.host.remove_checkpoints(vm_id, [checkpoint_id])
        seconds, dummy = wait_for_merge(self.host, reply["vm"], self._merge_timeout, "after deleting checkpoints",
                                        started=started)
        return seconds

    def restore(self, vm_id, checkpoint_id, power_state):
        return self.host.restore_checkpoint(vm_id, checkpoint_id, power_state)

    def rename(self, vm_id, checkpoint_id, new_name):
        return self.host.rename_checkpoint(vm_id, checkpoint_id, new_name)


def host_var(task_vars, host, name):
    """A variable that a task set at run time (a registered result, a set_fact) on another host of the play.

    Read from the variable manager's cache of such variables when it is there: hostvars[host] would
    compute every variable of that host to return one, which costs milliseconds a host, and a batch
    can have hundreds.
    """
    hostvars = task_vars.get("hostvars")
    cache = getattr(getattr(hostvars, "_variable_manager", None), "_nonpersistent_fact_cache", None)
    if cache is not None:
        return (cache.get(host) or {}).get(name)
    try:
        return hostvars[host].get(name) if hostvars is not None and host in hostvars else None
    except Exception:  # a host whose variables cannot be templated has none of ours
        return None


def this_run_state(registered):
    """The run state in a registered result of a step (None for a skipped or foreign result)."""
    if isinstance(registered, dict) and isinstance(registered.get("state"), dict):
        return registered["state"]
    return None


def unknown_variable_warnings(task_vars, spec):
    """A warning for each ``safe_change_*`` variable the role does not know (a typo is silently ignored)."""
    known = set(spec) | set(ROLE_OUTPUTS)
    warnings = []
    for name in sorted(task_vars):
        if not name.startswith("safe_change_") or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        warnings.append("safe_change does not know the variable %s, which is ignored%s" % (
            name, "; did you mean %s?" % close[0] if close else " (roles/safe_change/README.md lists the variables)"))
    return warnings


def write_results(path, artifacts):
    """Write the run's artifacts as JSON to ``path`` on the controller (relative to the working directory), through a
    file beside it, so that a reader never sees half a file; returns the problem as text, or None."""
    import json

    path = os.path.abspath(os.path.expanduser(path))
    partial = path + ".partial"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(artifacts, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(partial, path)
    except OSError as error:
        return "safe_change could not write its results to %s: %s" % (path, error)
    return None


def open_url_status(url, validate_certs, timeout):
    """The HTTP status ``url`` answers with, requested from the controller (redirects of GET followed)."""
    from urllib.error import HTTPError

    from ansible.module_utils.urls import open_url

    try:
        response = open_url(url, validate_certs=validate_certs, timeout=timeout, follow_redirects="safe")
    except HTTPError as error:
        return error.code
    try:
        return response.getcode()
    finally:
        response.close()
