"""The children's risk registers of the demo companies that have an assessment: Lumen Social (a
teen social network with live streaming, rated and reviewed before its assessment was submitted)
and KiteChat (an encrypted messaging app, half way through its first register). Demo data, like
the texts of :mod:`dd_toolkit.records.demo`, stored through :mod:`dd_toolkit.records.risk` as a
team would store it.

A rated cell is ``(harm, age group, likelihood, impact, residual, likelihood evidence, impact
evidence, rationale, owner)``; a cell rated not relevant is ``(harm, age group, reason)``. The
controls of each cell are the questions the methodology's ``addressed_by`` links to its harm that
the demo answered (at most three): a control is never typed, only linked.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from dd_toolkit.engine.registry import Content
from dd_toolkit.records import risk
from dd_toolkit.records.assessments import answer_rows
from dd_toolkit.records.models import Assessment, User

UR, DD, RS, CC, IN = "user_reports", "detection_data", "research", "children_consulted", "incidents"

META: dict[str, dict[str, Any]] = {
    "Lumen Social": {
        "assessed_by": "Child Safety team (lead), with Product, Trust and Safety Operations, Privacy and Legal",
        "method": (
            "Three workshops, one per group of harms, with the product leads of feed, messaging and live. "
            "Each rating was checked against last year's user reports, moderation data and incident reviews, "
            "published research on similar services, and two sessions with the youth advisory panel "
            "(24 members aged 13 to 17). The Head of Child Safety reviewed and approved the register."
        ),
        "sources": [UR, DD, RS, CC, IN],
        "reviewed": True,
    },
    "KiteChat": {
        "assessed_by": "Trust and Safety lead, with the engineering manager for messaging",
        "method": (
            "A first register, started from the features of the app. Ratings rest on user reports, "
            "the incident log and published research on encrypted messaging; children have not been "
            "consulted yet."
        ),
        "sources": [UR, RS, IN],
        "reviewed": False,
    },
}

CELLS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Lumen Social": (
        (
            "grooming",
            "age_10_12",
            "possible",
            "severe",
            "medium",
            (RS, CC),
            (RS,),
            "Under-13s are not allowed, but some pass the age check at sign-up. Accounts found to be under 13 "
            "are closed, and accounts that look young get the most protective settings.",
            "Head of Child Safety",
        ),
        (
            "grooming",
            "age_13_15",
            "likely",
            "severe",
            "medium",
            (UR, DD),
            (IN,),
            "Adults reach teenagers through comments and message requests. Requests from people they do not "
            "follow are off by default under 16, and adult-to-teen contact patterns go to review, but contact "
            "from accepted followers still carries risk.",
            "Head of Child Safety",
        ),
        (
            "grooming",
            "age_16_17",
            "likely",
            "severe",
            "high",
            (UR, DD),
            (IN,),
            "16- and 17-year-olds keep open message requests by default, so adults they do not know reach "
            "them more easily than younger teens. Incident reviews this year found two cases that started "
            "this way.",
            "Head of Child Safety",
        ),
        (
            "grooming",
            "age_0_5",
            "Young children cannot hold an account and do not use the app on their own; "
            "content showing them is assessed under child sexual abuse material.",
        ),
        (
            "grooming",
            "age_6_9",
            "Children of this age are far below the minimum age and were not found among "
            "closed under-age accounts; content showing them is assessed under child sexual abuse material.",
        ),
        (
            "csam",
            "age_13_15",
            "unlikely",
            "severe",
            "low",
            (DD,),
            (RS,),
            "Uploads are checked against recognised lists of known material and confirmed cases are removed "
            "and reported; new material depends on user reports and review.",
            "Trust and Safety Operations lead",
        ),
        (
            "csam",
            "age_16_17",
            "unlikely",
            "severe",
            "low",
            (DD,),
            (RS,),
            "As for 13-15: known material is matched on upload, and confirmed cases are reported.",
            "Trust and Safety Operations lead",
        ),
        (
            "live_streaming_abuse",
            "age_13_15",
            "possible",
            "severe",
            "medium",
            (DD, UR),
            (RS,),
            "Going live needs an account aged 16 or over, but younger teens can appear in others' streams and "
            "gifts can be sent to streamers.",
            "Live product lead",
        ),
        (
            "live_streaming_abuse",
            "age_16_17",
            "possible",
            "severe",
            "medium",
            (DD, UR),
            (RS,),
            "Streams by minors cannot receive gifts and are reviewed when they draw many new adult viewers.",
            "Live product lead",
        ),
        (
            "live_streaming_abuse",
            "age_0_5",
            "Streams showing young children are treated as possible abuse "
            "material: removed, reviewed and reported; young children do not stream themselves.",
        ),
        (
            "sextortion",
            "age_13_15",
            "possible",
            "severe",
            "medium",
            (UR, IN),
            (IN,),
            "Cases are reported every month; warnings in chats with new contacts and a fast reporting route "
            "for threats are in place.",
            "Head of Child Safety",
        ),
        (
            "sextortion",
            "age_16_17",
            "likely",
            "severe",
            "high",
            (UR, IN),
            (IN,),
            "Reports from older teenage boys rose this year. First contact is often here and the threat "
            "moves to another app, where the service cannot act.",
            "Head of Child Safety",
        ),
        (
            "self_generated",
            "age_13_15",
            "possible",
            "severe",
            "medium",
            (UR, CC),
            (RS,),
            "Images shared between teenagers are passed on beyond the sender's control; removal on request is "
            "fast, but prevention relies on guidance.",
            "Head of Child Safety",
        ),
        (
            "cyberbullying",
            "age_10_12",
            "likely",
            "serious",
            "medium",
            (UR, CC),
            (CC,),
            "Under-age users who pass the age check are bullied more often and report less.",
            "Community policy manager",
        ),
        (
            "cyberbullying",
            "age_13_15",
            "likely",
            "serious",
            "medium",
            (UR, CC),
            (CC,),
            "The most reported harm. Comment filters, limits on who can comment and a child-friendly report "
            "route reduce it; the youth panel says pile-ons in comments still hurt most.",
            "Community policy manager",
        ),
        (
            "self_harm",
            "age_13_15",
            "possible",
            "serious",
            "medium",
            (RS, DD),
            (RS,),
            "The recommender can surface a run of sad or self-harm content; it is tested for this and support "
            "information is shown on searches.",
            "Feed product lead",
        ),
        (
            "eating_disorders",
            "age_13_15",
            "possible",
            "serious",
            "medium",
            (RS, CC),
            (RS,),
            "Diet and body content is common in the feed; search terms are redirected to support, and "
            "recommendations to under-16s are limited.",
            "Feed product lead",
        ),
        (
            "persuasive_design",
            "age_13_15",
            "likely",
            "moderate",
            "low",
            (CC, RS),
            (CC,),
            "Autoplay and the endless feed keep teens scrolling; under-16s get night-time quiet hours and "
            "break reminders by default.",
            "Feed product lead",
        ),
        (
            "loot_boxes",
            "age_13_15",
            "possible",
            "moderate",
            "low",
            (UR,),
            (UR,),
            "Teens can buy coins to send gifts; spending limits and parental approval apply under 18.",
            "Payments product lead",
        ),
        (
            "data_exploitation",
            "age_13_15",
            "unlikely",
            "moderate",
            "low",
            (RS,),
            (RS,),
            "No personalised advertising to under-18s; profiles of minors are private by default.",
            "Data protection officer",
        ),
    ),
    "KiteChat": (
        (
            "grooming",
            "age_13_15",
            "likely",
            "severe",
            "high",
            (UR, RS),
            (IN,),
            "Anyone with a teenager's phone number or username can message them, and encrypted chats cannot "
            "be checked, so the service relies on reports.",
            "Trust and Safety lead",
        ),
        (
            "grooming",
            "age_16_17",
            "likely",
            "severe",
            "high",
            (UR, RS),
            (IN,),
            "As for 13-15; older teens also join large public groups where adults can find them.",
            "Trust and Safety lead",
        ),
        (
            "grooming",
            "age_0_5",
            "Sign-up needs a phone number and the app is for ages 13 and over; young "
            "children do not use it on their own.",
        ),
        (
            "csam",
            "age_13_15",
            "possible",
            "severe",
            "high",
            (UR, RS),
            (RS,),
            "Material can be shared in encrypted chats; the service acts on user reports and on what it can "
            "see, such as profile pictures and group names.",
            "Trust and Safety lead",
        ),
        (
            "sextortion",
            "age_13_15",
            "possible",
            "severe",
            "high",
            (UR, IN),
            (IN,),
            "Two cases reached the incident log this year; there is no warning or fast route for teens who "
            "are threatened yet.",
            "Trust and Safety lead",
        ),
        (
            "cyberbullying",
            "age_13_15",
            "likely",
            "moderate",
            "medium",
            (UR,),
            (UR,),
            "Group chats of classmates are where most reported bullying happens; users can leave and block, "
            "and admins can remove members.",
            "Community support manager",
        ),
        (
            "cyberbullying",
            "age_6_9",
            "The app is for ages 13 and over and needs a phone number; no user of this age has been found.",
        ),
    ),
}


def load_demo_register(db: Session, content: Content, assessment: Assessment, company: str, user: User | None) -> bool:
    """Open and fill the register of ``assessment`` for the demo ``company`` (False when it has
    none). Flushes; the caller commits (before submitting, so the register is frozen with it)."""
    if company not in CELLS or content.current_methodology.risk is None:
        return False
    addressed_by = content.current_methodology.risk.addressed_by
    answered = {qid for qid, row in answer_rows(db, assessment.id).items() if not getattr(row, "not_applicable", False)}
    register = risk.start_register(db, assessment, user)
    for cell in CELLS[company]:
        harm, age_group = cell[0], cell[1]
        if len(cell) == 3:
            values: dict[str, Any] = {"relevant": False, "not_relevant_reason": cell[2]}
        else:
            likelihood, impact, residual, l_evidence, i_evidence, rationale, owner = cell[2:]
            values = {
                "likelihood": likelihood,
                "likelihood_evidence": list(l_evidence) if isinstance(l_evidence, tuple) else [l_evidence],
                "impact": impact,
                "impact_evidence": list(i_evidence) if isinstance(i_evidence, tuple) else [i_evidence],
                "controls": [q for q in addressed_by.get(harm, ()) if q in answered][:3],
                "residual": residual,
                "rationale": rationale,
                "owner": owner,
            }
        risk.save_cell(db, assessment, user, harm, age_group, values, 0, content=content)
    risk.save_register_meta(db, assessment, user, META[company], register.version, content=content)
    return True
