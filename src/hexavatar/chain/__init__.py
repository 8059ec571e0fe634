"""hexavatar.chain: Ethereum for Hexavatar, a library on its own (imports nothing else here).

Modules (import from them directly; nothing is built at import):

- :mod:`.artifacts` compiled contracts shipped in ``build/`` (ABI, bytecode)
- :mod:`.contract` deploy HexavatarNFT, remember it, install Multicall3
- :mod:`.devnode` the embedded development chain (anvil), ``chain_up``
- :mod:`.errors` ``ChainError`` and its subclasses, each with a ``code``
- :mod:`.minter` build/sign/send/confirm mint and transfer transactions
- :mod:`.rpc` ``connect`` to a JSON-RPC node (CCIP-Read off), ``to_address``
- :mod:`.signer` signing keys and V3 keystores
- :mod:`.siwe` Sign-In with Ethereum (EIP-4361) messages and signature checks
- :mod:`.tokens` read any ERC-721/1155 (ownerOf, tokenURI, uri, ERC-165, Multicall3)

See docs/chain.md.
"""
