"""``consent-service import`` and ``export``: CSV files in and out, with progress bars on stderr.

Exit status: 0 done (a dry run included); 1 bad rows refused the file, or the import stopped part
way; 2 the file or the options cannot be used at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from consent_service.bootstrap import controller, opened
from consent_service.cli.progress import Bars, bars
from consent_service.config import Settings
from consent_service.domain.csv_rows import BadFile, RowError
from consent_service.domain.csv_suppressions import SuppressionFormat
from consent_service.domain.errors import InvalidInput, NotFound
from consent_service.domain.ledger import AffirmativeAction, Source
from consent_service.domain.receipts import DataController
from consent_service.domain.tps import Register
from consent_service.services import exports, imports, rights
from consent_service.services.catalogue import seed
from consent_service.services.context import Context

__all__ = ["add_commands", "run"]


def _notice(value: str) -> tuple[str, int]:
    purpose, _, version = value.partition(":")
    if not purpose or not version.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not PURPOSE:VERSION (for example marketing:1)")
    return purpose, int(version)


def add_commands(subparsers: Any) -> None:
    """Adds ``import suppressions|consents|screening FILE`` and ``export suppressions|consents``."""
    importing = subparsers.add_parser("import", help="import suppressions or consents from a CSV file")
    kinds = importing.add_subparsers(dest="import_command", required=True)
    suppressions = kinds.add_parser(
        "suppressions",
        help="add addresses to the suppression list",
        description="Generic CSV columns: email or to, channel (email|sms|phone|all, default email), "
        "reason (default imported), scope (marketing|all, default marketing), effective_at; a note column is "
        "read past, never kept. "
        "Mailchimp audience exports: the unsubscribed file (reason unsubscribed) or the cleaned file "
        "(reason hard_bounce). FPS (--format fps): the Fundraising Preference Service's suppression "
        "requests, columns email, phone, postcode, address_line_1, channels (email|sms|phone|post|all) "
        "and request_date (reason fps; requests applied after CONSENT_FPS_DEADLINE_DAYS are listed).",
    )
    suppressions.add_argument("file", type=Path)
    suppressions.add_argument(
        "--format", choices=[f.value for f in SuppressionFormat], default=SuppressionFormat.GENERIC.value
    )
    _common(suppressions)
    consents = kinds.add_parser(
        "consents",
        help="record people's choices from a CSV file",
        description="Columns: email and/or phone, optional reference, display_name, household and "
        "effective_at, and one column per choice named PURPOSE_CHANNEL (marketing_email, marketing_sms, "
        "...) or PURPOSE for a purpose with no channel (testimonial), valued yes or no. An import never "
        "lifts a suppression.",
    )
    consents.add_argument("file", type=Path)
    consents.add_argument(
        "--source",
        required=True,
        choices=[s.value for s in imports.IMPORT_SOURCES],
        help="how the people made these choices, as the organisation vouches",
    )
    consents.add_argument(
        "--notice",
        action="append",
        default=[],
        type=_notice,
        metavar="PURPOSE:VERSION",
        help="the notice version people were shown, per purpose (needed for every purpose granted)",
    )
    consents.add_argument(
        "--staff-member", help="who took the choices (needed for a file that grants by phone_call, letter...)"
    )
    consents.add_argument(
        "--affirmative-action",
        choices=[a.value for a in AffirmativeAction],
        help="how the people agreed, each by their own act and never by a box ticked for them (needed "
        "for a file that grants)",
    )
    consents.add_argument("--note", help="kept with every event, after 'imported from FILE'")
    _common(consents)
    screening = kinds.add_parser(
        "screening",
        help="record a TPS or CTPS screening: the numbers found on the register",
        description="One number a line, or CSV with a number column. Only the latest screening of each "
        "register counts; live marketing calls without the organisation's consent to calls are denied to "
        "listed numbers, and to every number once the screening is more than 28 days old.",
    )
    screening.add_argument("file", type=Path)
    screening.add_argument("--register", choices=[r.value for r in Register], default=Register.TPS.value)
    screening.add_argument(
        "--screened-on",
        required=True,
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the day the numbers were screened against the register",
    )
    _common(screening)
    exporting = subparsers.add_parser("export", help="export the suppression list or current consents as CSV")
    what = exporting.add_subparsers(dest="export_command", required=True)
    for name, text in (
        ("suppressions", "every suppression entry, by fingerprint: no contact details"),
        ("consents", "every current choice per person, purpose and channel: no contact details"),
    ):
        parser = what.add_parser(name, help=text)
        parser.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    record = what.add_parser(
        "consent-record", help="one person's consent record, ISO/IEC TS 27560 structure (JSON-LD)"
    )
    record.add_argument("person_id", help="the person's id")
    record.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    for command in (importing, exporting):
        command.set_defaults(run=run)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-bad-rows", action="store_true", help="import the good rows and list the bad ones"
    )
    parser.add_argument("--dry-run", action="store_true", help="check and count, change nothing")
    parser.add_argument("--actor", default=imports.ACTOR, help="recorded as who made the change")


def _bad_rows(errors: list[RowError]) -> Iterator[str]:
    yield f"{len(errors)} bad row{'s' if len(errors) != 1 else ''}:"
    for error in errors:
        yield f"  line {error.line}: {error.message}"


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_transfer(settings, args))


async def _transfer(settings: Settings, args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    async with opened(settings) as ctx:
        if args.command == "export" and args.export_command == "consent-record":
            return await _consent_record(ctx, args, controller(settings))
        if args.command == "export":
            return await _export(ctx, args, err)
        return await _import(ctx, args, err, settings.screening.fps_deadline_days)


async def _import(ctx: Context, args: argparse.Namespace, err: Console, fps_deadline_days: int) -> int:
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        print(f"consent-service: {path}: not UTF-8 text (save the file as CSV UTF-8)", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"consent-service: {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    report: imports.SuppressionImport | imports.ConsentImport | imports.ScreeningImport
    try:
        with bars(err) as progress:
            if args.import_command == "screening":
                report = await imports.import_screening(
                    ctx,
                    text,
                    imports.ScreeningOptions(
                        register=Register(args.register),
                        screened_on=args.screened_on,
                        skip_bad_rows=args.skip_bad_rows,
                        dry_run=args.dry_run,
                        actor=args.actor,
                    ),
                    Bars(progress),
                )
            elif args.import_command == "suppressions":
                report = await imports.import_suppressions(
                    ctx,
                    text,
                    imports.SuppressionOptions(
                        format=SuppressionFormat(args.format),
                        skip_bad_rows=args.skip_bad_rows,
                        dry_run=args.dry_run,
                        actor=args.actor,
                        fps_deadline_days=fps_deadline_days,
                    ),
                    Bars(progress),
                )
            else:
                options = _consent_options(args, path)
                if not args.dry_run:
                    await seed(ctx.store, ctx.clock)  # a new data directory gets the default catalogue
                report = await imports.import_consents(ctx, text, options, Bars(progress))
    except (BadFile, InvalidInput) as exc:
        print(f"consent-service: {path}: {exc.detail}", file=sys.stderr)
        return 2
    return _summary(path, report, args)


def _consent_options(args: argparse.Namespace, path: Path) -> imports.ConsentOptions:
    notices: dict[str, int] = {}
    for purpose, version in args.notice:
        if notices.setdefault(purpose, version) != version:
            raise InvalidInput.one("notice", f"two versions given for {purpose!r}")
    note = f"imported from {path.name}" + (f"; {args.note}" if args.note else "")
    return imports.ConsentOptions(
        source=Source(args.source),
        notices=notices,
        skip_bad_rows=args.skip_bad_rows,
        dry_run=args.dry_run,
        actor=args.actor,
        staff_member=args.staff_member,
        note=note,
        affirmative_action=AffirmativeAction(args.affirmative_action) if args.affirmative_action else None,
    )


def _summary(
    path: Path,
    report: imports.SuppressionImport | imports.ConsentImport | imports.ScreeningImport,
    args: Any,
) -> int:
    print(f"{path}: {report.rows} rows read")
    if report.bad:
        for line in _bad_rows(report.bad):
            print(line)
        if not args.skip_bad_rows:
            print("nothing was changed: fix the bad rows, or pass --skip-bad-rows to import the good ones")
            return 1
        print("the bad rows were skipped")
    verb = "would be" if args.dry_run else "were"
    if isinstance(report, imports.ScreeningImport):
        print(
            f"{report.added} listed numbers {verb} recorded; {report.present} already recorded; "
            f"{report.repeated} repeated in the file"
            + (
                "; this register's screening of that day was imported already"
                if report.already_imported
                else ""
            )
        )
    elif isinstance(report, imports.SuppressionImport):
        print(
            f"{report.added} suppressions {verb} added; {report.present} already on the list; "
            f"{report.lifted_since} lifted by staff after the row's own time; "
            f"{report.repeated} repeated in the file"
        )
        if report.late:
            print(
                f"{len(report.late)} FPS requests {verb} applied after their deadline: lines "
                + ", ".join(str(line) for line in report.late)
            )
        if report.not_kept:
            print(f"column {', '.join(report.not_kept)} read past: the suppression list keeps no free text")
    else:
        print(
            f"{report.events} choices {verb} recorded ({report.kept_suppressed} of them as an import, "
            f"because a suppression stands for the address and an import never lifts one); "
            f"{report.unchanged} unchanged; {report.superseded} older than the choice on record; "
            f"{report.people_created} people {verb} created; {report.contacts_added} contact points "
            f"{verb} added"
        )
    if args.dry_run:
        print("dry run: nothing was changed")
    if report.stopped is not None:
        print(
            f"stopped at line {report.stopped.line}: {report.stopped.message}. The {report.committed_rows}"
            " rows before its batch were committed; the counts above are theirs. Running the same file"
            " again finishes the import without repeating them."
        )
        return 1
    return 0


async def _export(ctx: Context, args: argparse.Namespace, err: Console) -> int:
    exporting = {"suppressions": exports.export_suppressions, "consents": exports.export_consents}
    export = exporting[args.export_command]
    out: Path | None = args.out
    with bars(err) as progress:
        if out is None:
            count = await export(ctx, sys.stdout, Bars(progress))
        else:
            # Written aside and moved into place whole, so a failed export leaves no half a file.
            partial = out.with_name(out.name + ".partial")
            handle: TextIO
            try:
                with partial.open("w", encoding="utf-8", newline="") as handle:
                    count = await export(ctx, handle, Bars(progress))
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            partial.replace(out)
    print(f"exported {count} {args.export_command}" + (f" to {out}" if out else ""), file=sys.stderr)
    return 0


async def _consent_record(ctx: Context, args: argparse.Namespace, organisation: DataController) -> int:
    try:
        record = await rights.consent_record(ctx, organisation, args.person_id)
    except NotFound as exc:
        print(f"consent-service: {exc.detail}", file=sys.stderr)
        return 1
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0
