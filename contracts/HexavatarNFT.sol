// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Hexavatar avatar NFT
/// @notice ERC-721 whose metadata lives on IPFS. Per token the contract stores only what defines
/// the metadata CID: the 32-byte sha2-256 digest, and one bit for its codec (raw or dag-pb).
/// `tokenURI` rebuilds `ipfs://b...` (CIDv1, base32 lower case) from them.
/// @dev Storage per mint: the digest (one fresh slot) and one codec bit. The bits of the latest
/// 192 token IDs live in the same slot as the token counter (written on every mint anyway), so a
/// dag-pb mint costs no more than a raw one; every 192 IDs a non-zero bit word is moved to
/// `_dagPbChunks` (about 115 gas a mint, amortised). Raw (0x55) is bit 0 because a small metadata
/// JSON imported as CIDv1 with raw leaves is a single raw block; dag-pb (0x70, e.g. any CIDv0
/// `Qm...` re-encoded as CIDv1) is bit 1.
contract HexavatarNFT is ERC721, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// Multicodec code of raw bytes.
    uint64 public constant CODEC_RAW = 0x55;
    /// Multicodec code of dag-pb (UnixFS).
    uint64 public constant CODEC_DAG_PB = 0x70;

    bytes private constant _BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

    uint256 private constant _CHUNK = 192;
    uint256 private constant _ID_MASK = type(uint64).max;

    /// Low 64 bits: the next token ID. High 192 bits: dag-pb flags of the chunk
    /// `(nextTokenId - 1) / 192`, bit `tokenId % 192`.
    uint256 private _head = 1;
    mapping(uint256 tokenId => bytes32 digest) private _digests;
    mapping(uint256 chunk => uint256 flags) private _dagPbChunks;

    /// The codec is neither raw (0x55) nor dag-pb (0x70).
    error UnsupportedCodec(uint64 codec);

    constructor(string memory name_, string memory symbol_) ERC721(name_, symbol_) {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(MINTER_ROLE, msg.sender);
    }

    /// @notice Mint the next token to `to` with metadata CIDv1 (`codec`, sha2-256 `digest`).
    function mint(address to, bytes32 digest, uint64 codec)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 tokenId)
    {
        tokenId = _store(digest, codec);
        _mint(to, tokenId);
    }

    /// @notice As `mint`, but a contract recipient must accept the token (IERC721Receiver).
    function safeMint(address to, bytes32 digest, uint64 codec)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 tokenId)
    {
        tokenId = _store(digest, codec);
        _safeMint(to, tokenId);
    }

    /// @notice The stored metadata CID parts of `tokenId` (reverts if it does not exist).
    function metadataOf(uint256 tokenId) external view returns (bytes32 digest, uint64 codec) {
        _requireOwned(tokenId);
        return (_digests[tokenId], _codecOf(tokenId));
    }

    /// @notice Number of tokens minted so far (IDs run from 1 to this number).
    function totalMinted() external view returns (uint256) {
        return (_head & _ID_MASK) - 1;
    }

    /// @notice `ipfs://` + CIDv1 base32 (multibase `b`) of the token's metadata.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        bytes memory cid = abi.encodePacked(
            uint8(0x01), uint8(_codecOf(tokenId)), uint8(0x12), uint8(0x20), _digests[tokenId]
        );
        return string.concat("ipfs://b", _base32(cid));
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    function _store(bytes32 digest, uint64 codec) private returns (uint256 tokenId) {
        uint256 head = _head;
        tokenId = head & _ID_MASK;
        uint256 flags = head >> 64;
        if (tokenId % _CHUNK == 0) {
            if (flags != 0) _dagPbChunks[tokenId / _CHUNK - 1] = flags;
            flags = 0;
        }
        if (codec == CODEC_DAG_PB) {
            flags |= 1 << (tokenId % _CHUNK);
        } else if (codec != CODEC_RAW) {
            revert UnsupportedCodec(codec);
        }
        _head = (flags << 64) | (tokenId + 1);
        _digests[tokenId] = digest;
    }

    function _codecOf(uint256 tokenId) private view returns (uint64) {
        uint256 head = _head;
        uint256 last = (head & _ID_MASK) - 1;
        uint256 flags = tokenId / _CHUNK == last / _CHUNK
            ? head >> 64
            : _dagPbChunks[tokenId / _CHUNK];
        return (flags >> (tokenId % _CHUNK)) & 1 == 1 ? CODEC_DAG_PB : CODEC_RAW;
    }

    /// RFC 4648 base32, lower case, no padding.
    function _base32(bytes memory data) private pure returns (string memory) {
        uint256 bits = data.length * 8;
        uint256 outLen = (bits + 4) / 5;
        bytes memory out = new bytes(outLen);
        for (uint256 i = 0; i < outLen; ++i) {
            uint256 pos = i * 5;
            uint256 byteIndex = pos / 8;
            uint256 window = uint256(uint8(data[byteIndex])) << 8;
            if (byteIndex + 1 < data.length) {
                window |= uint8(data[byteIndex + 1]);
            }
            out[i] = _BASE32[(window >> (11 - (pos % 8))) & 31];
        }
        return string(out);
    }
}
