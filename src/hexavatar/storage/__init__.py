"""hexavatar.storage"""
