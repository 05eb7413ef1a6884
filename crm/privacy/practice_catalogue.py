"""The fixed lists the practice settings choose from, and what the law requires of them.

Licensed professions (profile A), processors the CRM knows by name, and the record kinds with
their default period and legal minimum. Why a module of its own: the settings row
(crm/privacy/practice.py), the practice-file validation, the periods and the generated policy
all read these lists; none of them needs the settings row to do so.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.i18n import N_

#: Licensed professions with a journal duty under patientdatalagen (legal requirements 2.2).
PROFESSIONS = (
    "apotekare",
    "arbetsterapeut",
    "audionom",
    "barnmorska",
    "biomedicinsk analytiker",
    "dietist",
    "fysioterapeut",
    "hälso- och sjukvårdskurator",
    "kiropraktor",
    "logoped",
    "läkare",
    "naprapat",
    "optiker",
    "ortopedingenjör",
    "psykolog",
    "psykoterapeut",
    "receptarie",
    "röntgensjuksköterska",
    "sjukhusfysiker",
    "sjuksköterska",
    "tandhygienist",
    "tandläkare",
)


@dataclass(frozen=True)
class Processor:
    """A processor the practice uses, and whether data leaves the EU/EEA."""

    name: str
    purpose: str
    outside_eea: bool = False
    safeguards: str = ""


KNOWN_PROCESSORS = (
    Processor("MailerLite", "Utskick av nyhetsbrev"),
    Processor(
        "Mailchimp",
        "Utskick av nyhetsbrev",
        True,
        "EU–US Data Privacy Framework och EU:s standardavtalsklausuler",
    ),
    Processor("Brevo", "Utskick av nyhetsbrev"),
    Processor("Paloma", "Utskick av nyhetsbrev"),
    Processor("Fortnox", "Bokföring och fakturering"),
    Processor(
        "Stripe",
        "Betalningar",
        True,
        "EU–US Data Privacy Framework och EU:s standardavtalsklausuler",
    ),
    Processor("Zettle", "Betalningar"),
    Processor("Loopia", "Webbhotell och e-post"),
    Processor("Qlickboka", "Bokning av tider"),
    Processor("Benify", "Förmånsportal"),
)


@dataclass(frozen=True)
class RetentionRule:
    """A record kind, its default period and the legal minimum (months)."""

    kind: str
    label: str
    default_months: int
    minimum_months: int = 0
    minimum_reason: str = ""


RETENTION_RULES = (
    RetentionRule(
        "journal",
        N_("Patient journal (profile A), after the last entry"),
        120,
        120,
        N_("patientdatalagen 3 kap. 17 §: at least ten years after the last entry"),
    ),
    RetentionRule(
        "journal_access_log",
        N_("Journal access logs (profile A)"),
        60,
        60,
        N_("HSLF-FS 2016:40 4 kap. 9 §: at least five years"),
    ),
    RetentionRule(
        "client_card",
        N_("Client card and health notes (profile B), after the client relationship ended"),
        36,
    ),
    RetentionRule(
        "bookkeeping",
        N_("Bookkeeping records"),
        84,
        84,
        N_("bokföringslagen 7 kap. 2 §: until the end of the seventh year"),
    ),
    RetentionRule("consent_records", N_("Consent records, after withdrawal"), 36),
    RetentionRule("marketing_contacts", N_("Marketing-only contacts, after the last contact"), 12),
    RetentionRule("inquiries", N_("Inquiries that led nowhere"), 3),
    RetentionRule("requests", N_("Data-subject requests and breach register, after closing"), 60),
    RetentionRule("audit_log", N_("Security and audit logs"), 12),
)
