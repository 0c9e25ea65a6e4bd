# -*- coding: utf-8 -*-
# Copyright: contributors to the hyperv.checkpoint collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the hyperv.checkpoint collection: is the change of safe_change something Ansible can run?

A change that Ansible cannot load (a missing tasks file, a role that is not installed, a module name
with a typo, a collection that is missing) fails only when the play reaches it, after the checkpoint
was taken: the guest is then reverted (on a real host a production checkpoint restores to Off, so
the VM is restarted) for nothing. So before any checkpoint the role loads the change the way the
play will: the tasks file with the play's loader, each task (blocks, rescue, always and the static
includes and imports within them, roles and their dependencies and handlers) through Ansible's own
ModuleArgsParser, which raises "couldn't resolve module/action" exactly as the play would later.

What is named through a variable that has no value yet (``include_tasks: "{{ item }}.yml"``) cannot
be known in advance and is left to the play.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from ansible.errors import AnsibleError
from ansible.parsing.mod_args import ModuleArgsParser

from ansible_collections.hyperv.checkpoint.plugins.plugin_utils._names import closest_names, suggestion_text

if TYPE_CHECKING:
    from ansible.parsing.dataloader import DataLoader
    from ansible.playbook.task import Task
    from ansible.template import Templar

INCLUDE_TASKS = ("include_tasks", "import_tasks")
INCLUDE_ROLE = ("include_role", "import_role")
TASK_LISTS = ("block", "rescue", "always")
# A chain of includes deeper than this is a loop (a file that includes itself through others).
MAX_DEPTH = 20


def short_action(action: str) -> str:
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if action.startswith(prefix):
            return action[len(prefix):]
    return action


def error_text(error: Exception) -> str:
    """An Ansible error's own words, without the source excerpt that Ansible adds to its text."""
    text = getattr(error, "message", None) or str(error)
    return " ".join(str(text).split())


def _task_label(task: Any, index: int) -> str:
    name = task.get("name") if isinstance(task, dict) else None
    return "task %d%s" % (index, " ('%s')" % name if name else "")


def neighbour_hint(target: str) -> str:
    """``; did you mean '/x/change.yml'?`` for a missing absolute tasks file whose folder holds a file named alike."""
    folder, name = os.path.split(target)
    if not os.path.isabs(target) or not os.path.isdir(folder):
        return ""
    close = closest_names(name, [entry for entry in os.listdir(folder) if entry.endswith((".yml", ".yaml"))])
    return suggestion_text([os.path.join(folder, entry) for entry in close])


class ChangeChecker:
    """Checks change content against the running play.

    ``loader``: the play's DataLoader; ``collection_list``: the collections a short module name is
    looked up in (those of the task that will include the change); ``templar``: templates names given
    through variables (None: such names are skipped); ``find_role(name, collection_list)``: returns
    (role path, collection of the role or None), raising AnsibleError when the role is not found;
    ``role_path``: the path of the including role, where Ansible looks for a relative tasks file.
    """

    def __init__(self, loader: DataLoader, collection_list: list[str] | None, templar: Templar | None = None,
                 find_role: Callable[[str, list[str] | None], tuple[str, str | None]] | None = None,
                 role_path: str | None = None) -> None:
        self._loader = loader
        self._collections = list(collection_list or [])
        self._templar = templar
        self._find_role = find_role
        self._role_path = role_path
        self._seen: set[tuple[str, tuple[str, ...]]] = set()

    # Where things are ------------------------------------------------------------------------

    def find_tasks_file(self, target: str, including_dir: str | None = None) -> str | None:
        """The path Ansible would include for ``target``, or None when there is no such file."""
        candidates = []
        if os.path.isabs(target):
            candidates.append(target)
        else:
            if including_dir:
                candidates.append(os.path.join(including_dir, target))
            if self._role_path:
                candidates.append(self._loader.path_dwim_relative(self._role_path, "tasks", target, is_role=True))
            candidates.append(self._loader.path_dwim(target))
        for candidate in candidates:
            if candidate and os.path.isfile(candidate):
                return candidate
        return None

    def _value(self, value: Any) -> str | None:
        """A name given in a task: templated when it holds a template; None when it cannot be known yet."""
        if not isinstance(value, str):
            return None
        if "{{" not in value and "{%" not in value:
            return value
        if self._templar is None:
            return None
        try:
            templated = self._templar.template(value)
        except Exception:  # an undefined loop variable or fact: known only when the play gets there
            return None
        return templated if isinstance(templated, str) else None

    # Checking --------------------------------------------------------------------------------

    def check_tasks_file(self, target: str, option: str, including_dir: str | None = None,
                         collections: list[str] | None = None, depth: int = 0) -> list[str]:
        """Problems of the tasks file ``target`` named by ``option`` (a text for the messages)."""
        path = self.find_tasks_file(target, including_dir)
        if path is None:
            return ["the tasks file '%s' (%s) does not exist%s%s" % (
                target, option, "" if os.path.isabs(target) else "; give an absolute path, e.g. "
                "{{ playbook_dir }}/%s" % target, neighbour_hint(target))]
        return self._check_file(path, option, collections if collections is not None else self._collections, depth)

    def _check_file(self, path: str, option: str, collections: list[str], depth: int) -> list[str]:
        key = (os.path.realpath(path), tuple(collections))
        if key in self._seen:
            return []
        self._seen.add(key)
        if depth > MAX_DEPTH:
            return ["%s (%s): includes nest deeper than %d" % (path, option, MAX_DEPTH)]
        try:
            tasks = self._loader.load_from_file(path, unsafe=True)  # read only: no copy
        except AnsibleError as error:
            return ["%s (%s) cannot be loaded: %s" % (path, option, error_text(error))]
        if tasks is None:
            return []
        if not isinstance(tasks, list):
            return ["%s (%s) is not a list of tasks" % (path, option)]
        return self._check_tasks(tasks, path, option, collections, depth)

    def _check_tasks(self, tasks: list[Any], path: str, option: str, collections: list[str], depth: int) -> list[str]:
        problems = []
        for index, task in enumerate(tasks, 1):
            label = _task_label(task, index)
            where = "%s (%s), %s" % (path, option, label)
            if not isinstance(task, dict):
                problems.append("%s is not a task (a mapping)" % where)
                continue
            if any(key in task for key in TASK_LISTS):
                for key in TASK_LISTS:
                    if isinstance(task.get(key), list):
                        problems.extend(self._check_tasks(task[key], path, option, collections, depth))
                continue
            try:
                action, args, dummy = ModuleArgsParser(task, collection_list=collections).parse()
            except AnsibleError as error:
                problems.append("%s: %s" % (where, error_text(error)))
                continue
            problems.extend(self._check_include(short_action(action), args or {}, where, path, option, collections,
                                                depth, "%s, included by %s, %s" % (option, path, label)))
        return problems

    def _check_include(self, action: str, args: dict[str, Any], where: str, path: str, option: str,
                       collections: list[str], depth: int, included_by: str) -> list[str]:
        if action in INCLUDE_TASKS:
            target = self._value(args.get("_raw_params") or args.get("file"))
            if target is None:
                return []
            if self.find_tasks_file(target, os.path.dirname(path)) is None:
                return ["%s: includes '%s', which does not exist" % (where, target)]
            return self.check_tasks_file(target, included_by, os.path.dirname(path), collections, depth + 1)
        if action in INCLUDE_ROLE:
            name = self._value(args.get("name"))
            if name is None:
                return []
            return self.check_role(name, "%s: role" % where, args.get("tasks_from"), depth + 1, collections)
        return []

    def check_role(self, name: str, option: str, tasks_from: str | None = None, depth: int = 0,
                   collections: list[str] | None = None) -> list[str]:
        """Problems of the role ``name``: it exists, and its tasks, handlers and dependencies load."""
        if self._find_role is None:
            return []
        try:
            role_path, role_collection = self._find_role(name, collections if collections is not None
                                                         else self._collections)
        except AnsibleError as error:
            return ["the role '%s' (%s) cannot be found: %s" % (name, option, error_text(error))]
        # The module names of a role's tasks are looked up in the role's own collection first, then in
        # ansible.builtin (collection roles) or the legacy plugins (classic roles), as Ansible does.
        role_collections = [role_collection, "ansible.builtin"] if role_collection else ["ansible.legacy"]
        problems = []
        tasks_name = self._value(tasks_from) if tasks_from else "main"
        for kind, base in (("tasks", tasks_name), ("handlers", "main")):
            if base is None:
                continue
            path = self._role_file(role_path, kind, base)
            if path is None:
                if kind == "tasks" and tasks_from:
                    problems.append("the role '%s' (%s) has no tasks file '%s'" % (name, option, tasks_from))
                continue
            problems.extend(self._check_file(path, "%s, role %s" % (option, name), role_collections, depth))
        for dependency in self._dependencies(role_path):
            problems.extend(self.check_role(dependency, "%s, a dependency of the role %s" % (option, name), None,
                                            depth + 1, role_collections if role_collection else collections))
        return problems

    def _role_file(self, role_path: str, kind: str, base: str) -> str | None:
        for extension in ("", ".yml", ".yaml"):
            path = os.path.join(role_path, kind, base + extension)
            if os.path.isfile(path):
                return path
        return None

    def _dependencies(self, role_path: str) -> list[str]:
        path = self._role_file(role_path, "meta", "main")
        if path is None:
            return []
        try:
            meta = self._loader.load_from_file(path, unsafe=True) or {}
        except AnsibleError:
            return []  # the play reports a broken meta/main.yml itself, before the role runs
        names = []
        for dependency in (meta.get("dependencies") or []) if isinstance(meta, dict) else []:
            if isinstance(dependency, dict):
                dependency = dependency.get("role") or dependency.get("name")
            value = self._value(dependency)
            if value:
                names.append(value)
        return names


def change_problems(task: Task, loader: DataLoader, templar: Templar, options: Mapping[str, Any]) -> list[str]:
    """What keeps Ansible from running the change or the user's verification tasks; ``task``: a task of the role
    safe_change (its collections and role path are those the change runs with)."""
    checker = ChangeChecker(loader, task.collections, templar=templar,
                            find_role=lambda name, collection_list: find_role(task, loader, name, collection_list),
                            role_path=task._role._role_path)
    problems = []
    if options["safe_change_tasks"]:
        problems.extend(checker.check_tasks_file(options["safe_change_tasks"], "safe_change_tasks"))
    if options["safe_change_role"]:
        problems.extend(checker.check_role(options["safe_change_role"], "safe_change_role"))
    if options["safe_change_verify_tasks"]:
        problems.extend(checker.check_tasks_file(options["safe_change_verify_tasks"], "safe_change_verify_tasks"))
    return problems


def find_role(task: Task, loader: DataLoader, name: str, collection_list: list[str] | None) -> tuple[str, str | None]:
    """(path, collection or None) of the role ``name`` as an include_role in ``task``'s play would find it."""
    from ansible.playbook.role.include import RoleInclude
    from ansible.plugins.loader import add_all_plugin_dirs

    play = task._parent._play if task._parent is not None else None
    included = RoleInclude.load(name, play=play, loader=loader, collection_list=collection_list)
    if not included._role_collection:
        # A classic role brings its own modules (library/, action_plugins/), as when it is included.
        add_all_plugin_dirs(included._role_path)
    return included._role_path, included._role_collection
