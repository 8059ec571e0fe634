"""hexavatar.commands"""
