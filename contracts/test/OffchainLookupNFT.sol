// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// ERC-721 whose tokenURI and ownerOf answer with an EIP-3668 OffchainLookup revert pointing at
/// `url`: a reader with CCIP-Read on would fetch that URL. Test only.
contract OffchainLookupNFT is ERC721 {
    error OffchainLookup(
        address sender, string[] urls, bytes callData, bytes4 callbackFunction, bytes extraData
    );

    string private _url;

    constructor(string memory url_) ERC721("Offchain", "OFF") {
        _url = url_;
    }

    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _lookup(tokenId);
    }

    function ownerOf(uint256 tokenId) public view override returns (address) {
        _lookup(tokenId);
    }

    function callback(bytes calldata response, bytes calldata) external pure returns (string memory) {
        return string(response);
    }

    function _lookup(uint256 tokenId) private view {
        string[] memory urls = new string[](1);
        urls[0] = _url;
        revert OffchainLookup(
            address(this), urls, abi.encode(tokenId), this.callback.selector, abi.encode(tokenId)
        );
    }
}
