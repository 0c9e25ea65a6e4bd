#!/usr/bin/env python3
"""``make demo``: hyperv.checkpoint.safe_change against a simulated Hyper-V host.

Starts the simulated Hyper-V host (WinRM on 127.0.0.1) with five guest VMs, puts a few
files on each guest's disk, writes an inventory under build/demo/, and runs
tests/sim/demo/demo.yml with ansible-playbook:

    web01    a web-site release that works             -> committed, checkpoint deleted
    app01    an upgrade whose verification fails      -> reverted, disk identical to before
    db01     a database migration that fails outright -> reverted, disk identical to before
    shopdb   the application group "shop": its database's migration fails, and
    shopweb  its web server's release, which works, is reverted with it -> both identical to before

Then it compares each guest's disk with its state before the run and prints the summary.
Three of the changes fail on purpose, so ansible-playbook exits non-zero; the demo
checks the outcomes instead and exits 0 when everything behaved as designed. The
simulator is always stopped, also when something goes wrong.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

SIM_DIR = pathlib.Path(__file__).resolve().parent
REPO = SIM_DIR.parents[1]
DEMO_DIR = SIM_DIR / "demo"
BUILD = REPO / "build" / "demo"
sys.path.insert(0, str(SIM_DIR))
sys.path.insert(0, str(DEMO_DIR))

from guests import GuestWeb, ansible_environment, disk_digest, guest_vars, write_files  # noqa: E402
from hyperv_sim.admin import SimHost  # noqa: E402
from hyperv_sim.harness import inventory_vars, running_simulator  # noqa: E402

HYPERV_HOST = "hv01"
COLOUR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")

# What each guest holds before the change, what the change is, and what is expected.
GUESTS = {
    "web01": {
        "files": {
            "www/index.html": "<h1>Shop - release 1</h1>\n",
            "www/health": "OK\n",
            "www/VERSION": "1.0\n",
            "services/nginx": "running\n",
        },
        "change": "web_release.yml",
        "story": "publishes release 2 of the web site; the site still answers",
        "expected": "committed",
    },
    "app01": {
        "files": {
            "app/version": "1.4\n",
            "app/config.ini": "[app]\nversion = 1.4\nworkers = 4\n",
            "app/lib/core.bin": bytes(range(256)) * 16,
            "www/health": "OK\n",
            "services/app": "running\n",
        },
        "change": "app_upgrade.yml",
        "story": "upgrades the app to 2.0 and deletes its health page by mistake",
        "expected": "reverted",
    },
    "db01": {
        "files": {
            "db/schema.sql": "CREATE TABLE orders (id INT, total DECIMAL);\n",
            "db/data.bin": bytes(range(255, -1, -1)) * 32,
            "services/postgresql": "running\n",
        },
        "change": "db_migration.yml",
        "story": "runs a schema migration that fails half-way",
        "expected": "reverted",
    },
    # An application group: the shop's database and its web server change as one.
    "shopdb": {
        "files": {
            "db/schema.sql": "CREATE TABLE carts (id INT);\n",
            "db/data.bin": bytes(range(256)) * 32,
            "services/postgresql": "running\n",
        },
        "change": "db_migration.yml",
        "group": ("shop", 0),
        "story": "the shop's database (group shop, first): its migration fails",
        "expected": "reverted",
    },
    "shopweb": {
        "files": {
            "www/index.html": "<h1>Shop front - release 7</h1>\n",
            "www/health": "OK\n",
            "www/VERSION": "7.0\n",
            "services/nginx": "running\n",
        },
        "change": "web_release.yml",
        "group": ("shop", 1),
        "story": "the shop's web server (group shop, second): its release works, and is reverted with the database",
        "expected": "reverted",
    },
}


def style(text, code):
    return "\033[%sm%s\033[0m" % (code, text) if COLOUR else text


def heading(text):
    print()
    print(style("=" * 78, "1"))
    print(style(text, "1"))
    print(style("=" * 78, "1"))


def guest_settings(name, web):
    """Role variables of each demo guest: its change and its verification."""
    settings = {
        "safe_change_tasks": str(DEMO_DIR / "changes" / GUESTS[name]["change"]),
        "safe_change_reachable_timeout": 20,
        "safe_change_verify_retries": 1,
        "safe_change_verify_delay": 1,
    }
    if name == "web01":
        settings.update(safe_change_verify_url=web.url(name, "www/health"), safe_change_verify_services=["nginx"])
    elif name == "app01":
        settings.update(safe_change_verify_url=web.url(name, "www/health"), safe_change_verify_services=["app"])
    elif name in ("db01", "shopdb"):
        settings.update(safe_change_checkpoint_type="production_only",
                        safe_change_verify_services=["postgresql"],
                        safe_change_verify_command='test -s "$GUEST_DISK/db/schema.sql"')
    elif name == "shopweb":
        settings.update(safe_change_verify_url=web.url(name, "www/health"), safe_change_verify_services=["nginx"])
    if "group" in GUESTS[name]:
        settings.update(safe_change_group=GUESTS[name]["group"][0], safe_change_group_order=GUESTS[name]["group"][1])
    return settings


def write_inventory(sim, state_path, host, web):
    guests = {}
    for name in GUESTS:
        guests[name] = guest_vars(state_path, name, HYPERV_HOST, host.disk_path(name), **guest_settings(name, web))
    inventory = {
        "all": {
            "children": {
                "hyperv": {"hosts": {HYPERV_HOST: inventory_vars(sim)}},
                "guests": {"hosts": guests},
            },
            "vars": {"ansible_python_interpreter": sys.executable},
        }
    }
    path = BUILD / "inventory.json"
    path.write_text(json.dumps(inventory, indent=2))
    path.chmod(0o600)  # it holds the simulator's (throw-away) password
    return path


def run_playbook(inventory, results_file):
    environment = dict(os.environ, **ansible_environment(results_file))
    # Only what changed or failed: the demo is read by people, not parsed.
    environment.update(ANSIBLE_DISPLAY_SKIPPED_HOSTS="False", ANSIBLE_DISPLAY_OK_HOSTS="False",
                       ANSIBLE_LOCAL_TEMP=str(BUILD / "tmp"), ANSIBLE_FORCE_COLOR="1" if COLOUR else "0",
                       ANSIBLE_NOCOLOR="0" if COLOUR else "1")
    command = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
               str(DEMO_DIR / "demo.yml")]
    print(style("$ " + " ".join([pathlib.Path(command[0]).name] + [os.path.relpath(c, REPO) for c in command[1:]]),
                "2"))
    sys.stdout.flush()
    return subprocess.run(command, env=environment, cwd=str(REPO), check=False).returncode


def compare_disks(host, before):
    heading("3. The guests' disks after the run, compared with before")
    identical = {}
    for name, files_before in before.items():
        files_after = disk_digest(host.disk_path(name))
        identical[name] = files_after == files_before
        changed = sorted(path for path in set(files_before) | set(files_after)
                         if files_before.get(path) != files_after.get(path))
        verdict = (style("IDENTICAL to before (byte for byte)", "32") if identical[name]
                   else style("CHANGED", "33"))
        print("%-8s %d files: %s" % (name, len(files_after), verdict))
        for path in changed:
            what = ("added" if path not in files_before else "deleted" if path not in files_after else "modified")
            print("         %-18s %s" % (path, what))
    return identical


def summary(results, host, identical):
    heading("4. Summary")
    outcomes = (results.get("custom") or {}).get("safe_change_results") or {}
    print("%-8s %-10s %-10s %-11s %-10s %s" % ("GUEST", "EXPECTED", "OUTCOME", "CHECKPOINT", "DISK", "AS DESIGNED"))
    behaved = True
    for name, guest in GUESTS.items():
        result = outcomes.get(name, {})
        outcome = result.get("outcome", "(none)")
        left = [cp["name"] for cp in host.checkpoints(name)]
        ok = outcome == guest["expected"] and not left
        if guest["expected"] == "reverted":
            ok = ok and identical[name] and result.get("post_revert_verification") == "passed"
        else:
            ok = ok and not identical[name]
        behaved = behaved and ok
        disk = "identical" if identical[name] else "changed"
        print("%-8s %-10s %-10s %-11s %-10s %s" % (
            name, guest["expected"], outcome, "left" if left else "deleted", disk,
            style("yes", "32") if ok else style("NO", "31")))
    group = ((results.get("custom") or {}).get("hyperv_checkpoint_groups") or {}).get("shop", {})
    shop_ok = group.get("outcome") == "reverted" and group.get("cause") == "shopdb"
    behaved = behaved and shop_ok
    verdict = style("yes", "32") if shop_ok else style("NO", "31")
    members = ", ".join(group.get("members", []))
    print("group shop (%s): %s because of %s: %s" % (members, group.get("outcome"), group.get("cause"), verdict))
    print()
    for name in GUESTS:
        message = outcomes.get(name, {}).get("msg", "no result recorded")
        print(textwrap.fill(message, width=100, initial_indent="%-9s" % name, subsequent_indent=" " * 9))
    return behaved


def main() -> int:
    heading("hyperv.checkpoint demo: safe changes with checkpoints on a simulated Hyper-V host")
    print(textwrap.dedent("""\
        The role hyperv.checkpoint.safe_change wraps a change to a VM: pre-flight checks, a checkpoint,
        the change, a verification; then it deletes the checkpoint, or restores it, checks the VM again
        and reports. Here a simulated Hyper-V host (real WinRM on 127.0.0.1) runs three guests on their
        own and an application group of two (safe_change_group "shop": changed as one, reverted together):
        """))
    for name, guest in GUESTS.items():
        print("  %-8s %s (expected: %s)" % (name, guest["story"], guest["expected"]))
    if BUILD.exists():
        shutil.rmtree(BUILD)
    (BUILD / "tmp").mkdir(parents=True)
    state_path = BUILD / "hyperv-state.json"
    results_file = BUILD / "results.json"
    with running_simulator(state_path, vms=list(GUESTS), host_name="HV-DEMO") as sim:
        host = SimHost(sim.state_path)
        host.set_host(merge_seconds=1)
        for name, guest in GUESTS.items():
            write_files(host.disk_path(name), guest["files"])
        before = {name: disk_digest(host.disk_path(name)) for name in GUESTS}
        heading("1. The guests' disks before the change")
        for name, files in before.items():
            print("%-8s %s" % (name, ", ".join(files)))
        with GuestWeb(lambda vm: sim.state_path if vm in GUESTS else None) as web:
            inventory = write_inventory(sim, state_path, host, web)
            heading("2. ansible-playbook tests/sim/demo/demo.yml (three of the changes fail on purpose)")
            rc = run_playbook(inventory, results_file)
        identical = compare_disks(host, before)
        results = json.loads(results_file.read_text()) if results_file.exists() else {}
        behaved = summary(results, host, identical)
    print()
    print("ansible-playbook exited with %d (expected: 2, because three changes failed and were reverted, and the "
          "shop's web server with its database)." % rc)
    if behaved:
        print(style("The demo behaved as designed.", "1;32"))
        return 0
    print(style("The demo did NOT behave as designed: see above.", "1;31"))
    return 1


if __name__ == "__main__":
    sys.exit(main())
