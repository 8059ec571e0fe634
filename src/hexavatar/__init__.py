"""Hexavatar: a self-hostable profile-picture service with verifiable NFT avatars."""

__version__ = "0.1.0"
