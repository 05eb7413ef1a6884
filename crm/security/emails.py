"""The one check of an email address, used wherever the app accepts or mails one.

An address is data that ends up in a ``To:`` header and an SMTP ``RCPT TO``. A lenient check
("has an @") let ``a,b@evil.example`` through, which a mail server reads as two recipients;
semicolons, angle brackets, quotes, parentheses (comments), colons (group syntax), spaces and
control characters give the same or a header injection. So an address must be one RFC 5322
``addr-spec`` in its plain ``dot-atom`` form (section 3.4.1, no quoted local parts, no
comments, no IP literals), with RFC 6531's non-ASCII letters allowed for Swedish names and
domains (``åsa@företag.se``):

- local part: letters, digits and ``!#$%&'*+-/=?^_`{|}~``, dots only between them, at most
  64 characters (RFC 5321 section 4.5.3.1.1);
- domain: two or more labels of letters, digits and inner hyphens, each at most 63 characters,
  the last one alphabetic or an IDNA ``xn--`` label; at most 254 characters in all
  (RFC 5321 section 4.5.3.1.3 and its erratum 1690).

Sign-up, manual adds, imports, the person form, user accounts and invitations check with
:func:`is_valid`, and :mod:`crm.mail` refuses to send to anything else. Kernel module.
"""

from __future__ import annotations

import re

#: RFC 5322 section 3.2.3 atext, plus non-ASCII letters and digits (RFC 6531).
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[^\x00-\x7f\W]"
_LOCAL = re.compile(rf"(?:{_ATEXT})+(?:\.(?:{_ATEXT})+)*")
_LABEL = re.compile(
    r"(?:[A-Za-z0-9]|[^\x00-\x7f\W])(?:(?:[A-Za-z0-9\-]|[^\x00-\x7f\W])*(?:[A-Za-z0-9]|[^\x00-\x7f\W]))?"
)

MAX_LENGTH = 254
MAX_LOCAL = 64
MAX_LABEL = 63


def is_valid(address: str) -> bool:
    """Tell whether ``address`` is exactly one plain email address (see the module docstring).

    Checks the form only; the confirmation mail proves the address exists.
    """
    if not isinstance(address, str) or len(address) > MAX_LENGTH or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    if len(local) > MAX_LOCAL or not _LOCAL.fullmatch(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    for label in labels:
        if len(label) > MAX_LABEL or not _LABEL.fullmatch(label):
            return False
    tld = labels[-1]
    return (tld.isalpha() and len(tld) >= 2) or (tld.lower().startswith("xn--") and len(tld) > 4)
