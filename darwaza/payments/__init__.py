"""Fees: PSID challans paid through any bank (the 1Bill biller API), online payment through
a PSP, receipts, refunds and reconciliation. See docs/payments.md."""
