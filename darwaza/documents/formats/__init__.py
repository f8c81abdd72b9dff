"""Credential formats: SD-JWT VC, compact QR (COSE/CWT) and the compact JWS they share."""
