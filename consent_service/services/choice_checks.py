"""Every choice checked before anything is written: against the catalogue, its own act, its
provenance, and a child's guardian.

A grant that fails any check is refused, field by field, with every other error in its call. A
withdrawal is recorded whatever its paperwork lacks (DESIGN §4.1): what does not fit is left off and
named as a gap, and an unknown purpose or channel is widened, never narrowed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from consent_service.domain.channels import Channel
from consent_service.domain.children import ADULT, Guardian, age_on, guardian_refusals
from consent_service.domain.errors import FieldError, InvalidInput
from consent_service.domain.evidence import (
    EXPLAINED,
    Gap,
    affirmation_refusals,
    provenance_gaps,
    recorded_at_time,
    refuses,
)
from consent_service.domain.ledger import Decision, Source
from consent_service.domain.notices import NoticeKind
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Basis, Catalogue, Category, Purpose
from consent_service.services.choice_inputs import ChoiceInput, ChoicesInput
from consent_service.services.context import Context


@dataclass(frozen=True, slots=True)
class Checked:
    choice: ChoiceInput
    purpose: Purpose
    basis: Basis
    notice_id: str | None
    #: What this choice's own paperwork lacked (the request's provenance gaps are added in ``_record``).
    gaps: tuple[Gap, ...] = ()


def _covered_by(
    catalogue: Catalogue, choice: ChoiceInput
) -> tuple[list[tuple[Purpose, Channel | None]], Gap]:
    """What an opt-out naming a purpose or channel the catalogue does not have covers instead.

    The person's wish must not be lost to a typo in a purpose code (DESIGN §4.1), so the opt-out is
    widened, never narrowed: an unknown purpose stands for every marketing purpose on the channel
    named (every channel if none is, or if no marketing purpose uses it); a known purpose on a
    channel it does not use stands for the purpose on each of its channels.
    """
    known = catalogue.get(choice.purpose)
    if known is not None:
        return [(known, channel) for channel in known.channels], Gap.CHANNEL
    marketing = [p for p in catalogue if p.category is Category.MARKETING]
    on_channel: list[tuple[Purpose, Channel | None]] = [
        (p, choice.channel) for p in marketing if choice.channel is not None and choice.channel in p.bases
    ]
    return on_channel or [(p, c) for p in marketing for c in p.channels], Gap.PURPOSE


async def check_choices(ctx: Context, request: ChoicesInput, prefix: str) -> list[Checked]:
    """Every choice against the catalogue, all errors at once, before anything is written.

    A grant that does not fit the catalogue is refused field by field. A withdrawal is recorded
    whatever its paperwork lacks (DESIGN §4.1): a notice or collection context that does not fit is
    left off and named as a gap, and an unknown purpose or channel is widened (``_covered_by``).
    """
    errors: list[FieldError] = []
    checked: list[Checked] = []
    widened: list[Checked] = []
    for i, choice in enumerate(request.choices):
        at = f"{prefix}choices[{i}]."
        opt_out = choice.decision is Decision.WITHDRAWN
        # A soft opt-in's collection context is its proof instead (refused below if it does not fit).
        soft_opt_in = choice.collection_context is not None
        act, pre_ticked = choice.affirmative_action, choice.pre_ticked
        errors.extend(affirmation_refusals(choice.decision, act, pre_ticked, at, soft_opt_in))
        gaps: list[Gap] = []
        try:
            purpose = await ctx.catalogue.purpose(choice.purpose, choice.channel, at)
        except InvalidInput as exc:
            if not opt_out:
                errors.extend(exc.errors)
                continue
            covered, gap = _covered_by(ctx.catalogue.catalogue, choice)
            widened.extend(
                Checked(ChoiceInput(p.code, channel, Decision.WITHDRAWN), p, p.bases[channel], None, (gap,))
                for p, channel in covered
            )
            continue
        basis = purpose.bases[choice.channel]
        notice_id = None
        if choice.notice is not None:
            notice = await ctx.catalogue.notice(*choice.notice)
            if notice is None:
                message = f"no notice version {choice.notice[1]} of {choice.notice[0]!r}"
            elif notice.purpose != purpose.code:
                message = f"the notice is for {notice.purpose!r}, not {purpose.code!r}"
            elif notice.kind is not NoticeKind.CONSENT_REQUEST and choice.decision is Decision.GRANTED:
                message = f"that wording is {notice.kind.value.replace('_', ' ')}, not a consent request"
            elif (
                purpose.shares_with_controllers
                and not notice.controllers
                and choice.decision is Decision.GRANTED
            ):
                # LEGAL #29: consent others rely on is informed only if the wording names them.
                message = (
                    f"{purpose.code!r} is shared with other controllers, and this wording names none; "
                    "publish a wording that names them (controllers)"
                )
            else:
                message = ""
                notice_id = notice.id
            if message and not opt_out:
                errors.append(FieldError(f"{at}notice", message))
                continue
            if message:
                gaps.append(Gap.NOTICE)
        if choice.decision is Decision.GRANTED and notice_id is None:
            errors.append(
                FieldError(f"{at}notice", "a grant must name the notice version the person was shown")
            )
            continue
        context_error = None
        if choice.collection_context is not None and basis is not Basis.SOFT_OPT_IN:
            context_error = FieldError(
                f"{at}collection_context", "only a soft opt-in records a collection context"
            )
        elif (
            choice.collection_context is not None
            and choice.collection_context.get("opt_out_offered") is not True
        ):
            context_error = FieldError(
                f"{at}collection_context.opt_out_offered",
                "a soft opt-in needs an opt-out offered at collection",
            )
        elif choice.collection_context is not None and not choice.collection_context.get("opt_out_wording"):
            context_error = FieldError(
                f"{at}collection_context.opt_out_wording",
                "a soft opt-in records the opt-out as it was worded at collection",
            )
        if context_error is not None and not opt_out:
            errors.append(context_error)
            continue
        if context_error is not None:
            gaps.append(Gap.COLLECTION_CONTEXT)
            choice = replace(choice, collection_context=None)
        checked.append(Checked(choice, purpose, basis, notice_id, tuple(gaps)))
    if errors:
        raise InvalidInput(errors)
    return _once_each(checked, widened, prefix)


def _once_each(checked: list[Checked], widened: list[Checked], prefix: str) -> list[Checked]:
    """One choice per purpose and channel: a withdrawal named twice is one; a grant and a withdrawal of
    the same thing contradict each other and are refused; a widened opt-out gives way to a choice
    named outright."""
    by_key: dict[tuple[str, Channel | None], Checked] = {}
    for item in checked:
        key = (item.choice.purpose, item.choice.channel)
        held = by_key.get(key)
        if held is None:
            by_key[key] = item
        elif held.choice.decision is Decision.WITHDRAWN and item.choice.decision is Decision.WITHDRAWN:
            by_key[key] = replace(held, gaps=merged_gaps(held.gaps, item.gaps))
        else:
            raise InvalidInput.one(f"{prefix}choices", "each purpose and channel may appear once")
    for item in widened:
        key = (item.choice.purpose, item.choice.channel)
        held = by_key.get(key)
        if held is None:
            by_key[key] = item
        elif held.choice.decision is Decision.WITHDRAWN:
            by_key[key] = replace(held, gaps=merged_gaps(held.gaps, item.gaps))
    return list(by_key.values())


def merged_gaps(*groups: tuple[Gap, ...]) -> tuple[Gap, ...]:
    """The gaps of several sources, each once, in the order ``Gap`` declares them."""
    present = {gap for group in groups for gap in group}
    return tuple(gap for gap in Gap if gap in present)


def check_provenance(
    ctx: Context, request: ChoicesInput, checked: list[Checked], prefix: str
) -> tuple[datetime, tuple[Gap, ...]]:
    """When the person said it, and what its provenance lacks; a grant lacking any is refused, field by
    field, with everything else in its call (DESIGN §4.1)."""
    now = ctx.clock.now()
    effective_at = request.effective_at or now
    gaps = provenance_gaps(request.source, request.evidence, effective_at, now)
    if any(refuses(item.choice.decision, gaps) for item in checked):
        raise InvalidInput([_refusal(gap, request.source, prefix) for gap in gaps])
    return recorded_at_time(effective_at, now), gaps


def _refusal(gap: Gap, source: Source, prefix: str) -> FieldError:
    if gap is Gap.STAFF_MEMBER:
        return FieldError(
            f"{prefix}evidence.staff_member",
            f"a request by {source.value.replace('_', ' ')} names who took it",
        )
    if gap is Gap.NOTE:
        return FieldError(f"{prefix}evidence.note", EXPLAINED[gap])
    return FieldError(f"{prefix}{gap.value}", EXPLAINED[gap])


async def check_children(
    uow: UnitOfWork,
    person_id: str | None,
    birth_month: str | None,
    checked: list[Checked],
    request: ChoicesInput,
    effective_at: datetime,
) -> None:
    """A child's grant that needs a guardian names one who is on record, another person, and an adult
    as far as the record says (LEGAL #30); refused field by field before anything is written."""
    evidence = request.evidence
    guardian = Guardian(evidence.guardian_id, evidence.guardian_relationship, evidence.child_assent)
    errors: dict[str, FieldError] = {}
    for item in checked:
        for error in guardian_refusals(
            birth_month,
            effective_at.date(),
            item.choice.purpose,
            item.choice.decision,
            request.source,
            guardian,
            "evidence.",
        ):
            errors.setdefault(error.field, error)
    if guardian.person_id is not None and any(i.choice.decision is Decision.GRANTED for i in checked):
        found = await uow.people.get(guardian.person_id)
        if found is None or found.erased_at is not None or found.id == person_id:
            message = "the guardian must be another person on record"
        elif found.birth_month is not None and age_on(found.birth_month, effective_at.date()) < ADULT:
            message = f"a guardian is {ADULT} or over"
        else:
            message = ""
        if message:
            errors.setdefault("evidence.guardian_id", FieldError("evidence.guardian_id", message))
    if errors:
        raise InvalidInput(list(errors.values()))
