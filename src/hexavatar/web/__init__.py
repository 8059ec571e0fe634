"""hexavatar.web"""
