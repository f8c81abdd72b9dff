"""One `PaymentProvider` interface with two kinds: the PSID biller and an online PSP.

The PSID biller is passive (1Bill calls us, `darwaza.payments.biller`), so its part of
the interface is refunds and status from our own records. The PSP is active, in the
style of GOV.UK Pay: create a payment with an idempotency key, send the citizen to the
provider's page, learn the outcome from a signed webhook or by asking
(`status`). `SandboxPsp` speaks to the sandbox PSP in ``darwaza sandbox-bank``; a real
provider is another class with the same methods, chosen by settings at onboarding.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

import httpx

from darwaza.payments.models import Payment, PaymentRefund
from darwaza.settings import Settings

SIGNATURE_HEADER = "X-Darwaza-Signature"


class ProviderUnavailable(Exception):
    """The provider did not answer in time, or answered nonsense: try again later."""


@dataclass(frozen=True)
class ProviderPayment:
    """What a provider says about a payment: its id, status and amount."""

    reference: str
    status: str  # "created", "pending", "success", "failed", "cancelled"
    amount_paisa: int
    next_url: str = ""
    transaction_id: str = ""


class PaymentProvider(Protocol):
    """What Darwaza needs of a way to take money."""

    name: str

    def refund(self, *, payment: Payment, refund: PaymentRefund) -> None:
        """Send ``refund.amount_paisa`` back; the refund's id is the idempotency key."""
        ...

    def status(self, *, payment: Payment) -> ProviderPayment | None:
        """The provider's truth about ``payment``, or None if it has none."""
        ...


class PsidBiller:
    """The PSID kind: banks pay through 1Bill, refunds go out by the agency's bank
    (recorded here; the settlement file shows them)."""

    name = "psid"

    def refund(self, *, payment: Payment, refund: PaymentRefund) -> None:
        return None

    def status(self, *, payment: Payment) -> ProviderPayment | None:
        return None


def sign_body(secret: str, body: bytes) -> str:
    """The webhook signature: HMAC-SHA256 of the raw body, hex."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, signature: str) -> bool:
    """Compare in constant time, so timing tells an attacker nothing."""
    return hmac.compare_digest(sign_body(secret, body), signature.strip().lower())


class SandboxPsp:
    """The online kind, against the sandbox PSP (or any PSP speaking its small API)."""

    name = "psp"

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None):
        self._client = httpx.Client(
            base_url=settings.psp_base_url,
            timeout=5.0,
            transport=transport,
            headers={"Authorization": f"Bearer {settings.psp_api_key}"},
        )

    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            raise ProviderUnavailable(str(error)) from error
        if response.status_code >= 500:
            raise ProviderUnavailable(f"the provider answered {response.status_code}")
        return response

    def create(
        self, *, payment: Payment, return_url: str, idempotency_key: str, description: str
    ) -> ProviderPayment:
        """Create the payment at the provider; the same key again returns the same one."""
        response = self._call(
            "POST",
            "/psp/v1/payments",
            json={
                "amount": payment.amount_paisa,
                "reference": payment.id,
                "description": description,
                "return_url": return_url,
            },
            headers={"Idempotency-Key": idempotency_key},
        )
        if response.status_code != 201 and response.status_code != 200:
            raise ProviderUnavailable(f"the provider refused: {response.status_code}")
        data = response.json()
        return ProviderPayment(
            reference=str(data["payment_id"]),
            status=str(data["state"]),
            amount_paisa=int(data["amount"]),
            next_url=str(data["next_url"]),
        )

    def status(self, *, payment: Payment) -> ProviderPayment | None:
        if not payment.provider_reference:
            return None
        response = self._call("GET", f"/psp/v1/payments/{payment.provider_reference}")
        if response.status_code == 404:
            return None
        data = response.json()
        return ProviderPayment(
            reference=str(data["payment_id"]),
            status=str(data["state"]),
            amount_paisa=int(data["amount"]),
            transaction_id=str(data.get("transaction_id", "")),
        )

    def refund(self, *, payment: Payment, refund: PaymentRefund) -> None:
        if not payment.provider_reference:
            return
        self._call(
            "POST",
            f"/psp/v1/payments/{payment.provider_reference}/refunds",
            json={"amount": refund.amount_paisa},
            headers={"Idempotency-Key": f"refund:{refund.id}"},
        )


def provider_for(name: str, settings: Settings) -> PaymentProvider:
    """The provider a payment was made through."""
    if name == "psp":
        return SandboxPsp(settings)
    return PsidBiller()
