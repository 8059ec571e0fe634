// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// Base for ERC-721s whose tokenURI misbehaves; anyone may mint (test only).
abstract contract MintableTestNFT is ERC721 {
    constructor(string memory name_) ERC721(name_, "BAD") {}

    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }
}

/// tokenURI always reverts with a message.
contract RevertingURINFT is MintableTestNFT("RevertingURI") {
    function tokenURI(uint256) public pure override returns (string memory) {
        revert("RevertingURINFT: no uri");
    }
}

/// tokenURI returns bytes that do not ABI-decode as a string.
contract GarbageURINFT is MintableTestNFT("GarbageURI") {
    function tokenURI(uint256) public pure override returns (string memory) {
        assembly {
            mstore(0, 0xdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef)
            mstore(32, 0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef)
            return(0, 37)
        }
    }
}

/// tokenURI returns a string of `size` bytes (10 MB by default), all 'a'.
contract HugeURINFT is MintableTestNFT("HugeURI") {
    uint256 public size = 10_000_000;

    function setSize(uint256 size_) external {
        size = size_;
    }

    function tokenURI(uint256) public view override returns (string memory) {
        bytes memory out = new bytes(size);
        assembly {
            let p := add(out, 32)
            let end := add(p, mload(out))
            let word := 0x6161616161616161616161616161616161616161616161616161616161616161
            for {} lt(p, end) { p := add(p, 32) } { mstore(p, word) }
        }
        return string(out);
    }
}

/// tokenURI loops until it runs out of gas; so does ownerOf(666).
contract GasBurnerURINFT is MintableTestNFT("GasBurnerURI") {
    uint256 private _sink;

    function ownerOf(uint256 tokenId) public view override returns (address) {
        if (tokenId == 666) tokenURI(tokenId);
        return super.ownerOf(tokenId);
    }

    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        uint256 x = tokenId;
        while (true) {
            x = uint256(keccak256(abi.encode(x, _sink)));
        }
        return "";
    }
}
