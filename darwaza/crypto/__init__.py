"""Cryptography every domain shares: ES256 keys and their sealing, compact JWS, digests.

Nothing here knows about agencies, documents or the database; the domains above bring
the keys and decide what is signed.
"""
