#!/usr/bin/env python3
# Run every scim2-tester check against a live SCIM server and summarise the results.
#
# Install (full pinned closure in .ci/requirements-scim2.txt; validated against scim2-server 0.8.3:
# 135 passed, 0 failed, 0 skipped). The [httpx2] extra is required: scim2-tester pulls no HTTP library.
#   pip install 'scim2-tester[httpx2]==0.5.2' 'scim2-client[httpx2]==0.13.2' scim2-models==0.12.3 httpx2==2.16.2
#
# Usage:
#   python .ci/scim2-tester.py --url http://127.0.0.1:PORT/scim/v2/TENANT [--token TOKEN]
#          [--include TAGS] [--exclude TAGS] [--resource-types User,Group] [--verbose]
#
# Output: one line per check result "STATUS  check_name [ResourceType]: reason", then
#   "scim2-tester: N passed, N failed, N skipped".
# Exit: 0 all passed/skipped, 1 some check failed (ERROR/CRITICAL/DEVIATION), 2 harness error.
# Tags (hierarchical, comma separated): discovery, service-provider-config, resource-types,
#   schemas, misc, crud, crud:create, crud:read, crud:read:attributes, crud:update, crud:delete,
#   patch, patch:add, patch:remove, patch:replace.
import argparse
import sys

PASSED = {"SUCCESS", "COMPLIANT", "ACCEPTABLE"}
SKIPPED = {"SKIPPED"}  # everything else (ERROR, CRITICAL, DEVIATION, unknown) counts as failed


def _tags(value):
    tags = {t.strip() for t in (value or "").split(",") if t.strip()}
    return tags or None


def _selected_tags(include, exclude, all_tags):
    """Turn --include/--exclude into an include set.

    scim2-tester 0.5.2 lets exclude_tags also skip the '*' discovery checks, which then leaves no
    resource type to test; include_tags always keeps them, so exclusion is expressed as inclusion.
    """
    if not exclude:
        return include

    def hit(tag, wanted):
        return any(tag == w or tag.startswith(w + ":") or w in tag.split(":") for w in wanted)

    return {t for t in all_tags if not hit(t, exclude) and (not include or hit(t, include))} or {"-"}


def _one_line(text, limit=300):
    text = " | ".join(line.strip() for line in str(text or "").splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main():
    parser = argparse.ArgumentParser(description="Run scim2-tester against a SCIM server.")
    parser.add_argument("--url", required=True, help="SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2/acme")
    parser.add_argument("--token", help="bearer token sent as 'Authorization: Bearer TOKEN'")
    parser.add_argument("--include", help="run only checks with these tags (comma separated)")
    parser.add_argument("--exclude", help="skip checks with these tags (comma separated)")
    parser.add_argument("--resource-types", help="test only these resource types (comma separated)")
    parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds")
    parser.add_argument("--verbose", action="store_true", help="print the full reason and data of failures")
    args = parser.parse_args()

    try:
        import httpx2
        from scim2_client.engines.httpx2 import SyncSCIMClient
        from scim2_tester import check_server, get_all_available_tags

        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        http = httpx2.Client(base_url=args.url, headers=headers, timeout=args.timeout)
        with http:
            results = check_server(
                SyncSCIMClient(http),
                include_tags=_selected_tags(_tags(args.include), _tags(args.exclude), get_all_available_tags()),
                resource_types=sorted(_tags(args.resource_types)) if args.resource_types else None,
            )
    except Exception as exc:  # checks catch their own errors; this is the harness failing
        print(f"scim2-tester: harness error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    passed = failed = skipped = 0
    for r in results:
        status = getattr(r.status, "name", str(r.status))
        where = f" [{r.resource_type}]" if r.resource_type else ""
        print(f"{status:<8} {r.title}{where}: {_one_line(r.reason) or 'ok'}")
        if status in PASSED:
            passed += 1
        elif status in SKIPPED:
            skipped += 1
        else:
            failed += 1
            if args.verbose:
                print(f"    reason: {r.reason}\n    data: {r.data!r}")

    # Discovery failures stop check_server before any resource is tested: make that loud.
    if not any(t.startswith(("crud", "patch")) for r in results for t in r.tags):
        print("ERROR    resource_checks: no resource type was tested (discovery incomplete)")
        failed += 1

    print(f"scim2-tester: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
