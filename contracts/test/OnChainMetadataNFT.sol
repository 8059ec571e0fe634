// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// ERC-721 whose tokenURI is `data:application/json;base64,...` with an inline SVG image.
contract OnChainMetadataNFT is ERC721 {
    constructor() ERC721("OnChain", "OCH") {}

    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }

    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        string memory svg = string.concat(
            '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">',
            '<rect width="64" height="64" fill="#3366cc"/></svg>'
        );
        string memory json = string.concat(
            '{"name":"OnChain #',
            Strings.toString(tokenId),
            '","description":"on-chain test token","image":"data:image/svg+xml;base64,',
            Base64.encode(bytes(svg)),
            '"}'
        );
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json)));
    }
}
