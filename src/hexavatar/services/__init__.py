"""hexavatar.services"""
