"""hexavatar.chain"""
